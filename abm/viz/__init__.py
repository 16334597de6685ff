"""The browser app that ``abm viz`` serves (Solara, with Mesa's controller): controls, views, page.

``abm viz`` hands the app its starting config through these environment variables, so
the command can check the config without importing the (heavy) app.
"""

CONFIG_ENV = "ABM_VIZ_CONFIG"
OVERRIDES_ENV = "ABM_VIZ_OVERRIDES"  # a JSON list of "section.key=value"
