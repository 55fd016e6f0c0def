"""Local stand-ins for Slack and Twilio that speak their wire formats, the rig that runs them, and `textback demo`."""
