"""The browser app (Mesa's SolaraViz) that ``abm viz`` serves: controls, views, page.

``abm viz`` hands the app its starting config through these environment variables, so
the command can check the config without importing the (heavy) app.
"""

CONFIG_ENV = "ABM_VIZ_CONFIG"
OVERRIDES_ENV = "ABM_VIZ_OVERRIDES"  # a JSON list of "section.key=value"
