"""`/textback` subcommands: the router, one module per subcommand, shared replies and permissions."""
