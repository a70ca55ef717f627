"""Microsoft Teams channel on teams.py (`microsoft-teams-apps` 2.1.x). See docs/teams-sdk.md for
what the SDK does and does not do; every Teams detail lives under this package."""

import warnings

# teams.py 2.1 warns on import about a preview feature canishare does not use (HTML widgets).
warnings.filterwarnings("ignore", message="HtmlWidgetSecurityPolicy is in preview")
# ...and that its ApiClient still builds a deprecated BotClient internally.
warnings.filterwarnings("ignore", message="The bot client is deprecated", category=DeprecationWarning)
