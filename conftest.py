"""Root test configuration: the real embedded servers, shared by every tier that needs them."""

pytest_plugins = ["coagent_cli.testing"]
