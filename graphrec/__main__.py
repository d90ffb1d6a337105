from graphrec.cli import cli

cli()
