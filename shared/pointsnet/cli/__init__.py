"""The `pointsnet` command line: the SDK behind argparse subcommands, split by audience.

`app` parses, runs and renders (`main`); `registry` is where commands register; `output`
renders tables and JSON. The commands: `members` (earn, burn, balance, history, reverse,
holds), `network` (links, rates, quotes, exchanges), `admin` (partners, keys, rate limits,
signing, policies), `finance` (settlement runs and settlements), `profiles` (`configure`
writes profiles like `aws configure`; `bootstrap` issues the first admin key) and `local`
(the local network's events and schedules).
"""

from pointsnet.cli.app import (
    COMMANDS,
    EXIT_API_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE_OR_CREDENTIALS,
    build_parser,
    default_client_factory,
    main,
)
from pointsnet.cli.finance import Progress
from pointsnet.cli.output import (
    Column,
    CommandOutput,
    format_api_error,
    render_output,
    render_table,
)
from pointsnet.cli.registry import CommandFailed, Commands, GlobalOptions

__all__ = [
    "COMMANDS",
    "EXIT_API_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE_OR_CREDENTIALS",
    "Column",
    "CommandFailed",
    "CommandOutput",
    "Commands",
    "GlobalOptions",
    "Progress",
    "build_parser",
    "default_client_factory",
    "format_api_error",
    "main",
    "render_output",
    "render_table",
]
