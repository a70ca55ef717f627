"""Errors shared by the command line and the channel commands it dispatches to (its own module so
`bot.channels.teams.commands` need not import `bot.cli`, which imports it)."""


class CommandError(Exception):
    """A user mistake: printed as one line, exit code 2."""
