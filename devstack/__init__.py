"""Local development stack: stand-ins for the services the connector talks to."""
