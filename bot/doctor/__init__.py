"""`textback doctor`: checks a deployment's Slack and Twilio set-up and reports what to fix."""
