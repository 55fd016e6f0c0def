"""The lines: the lines file (read, checked, located errors), its values, and the live directory."""
