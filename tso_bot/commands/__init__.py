"""The `tso-bot` subcommands, one module per area. Each module has `register(sub)`, which
adds its parsers with `set_defaults(handler=...)`; a handler is
`async def handler(args, settings) -> None` and raises `CliError` to fail."""
