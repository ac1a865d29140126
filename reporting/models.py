"""reporting: models arrive with their issue (see DESIGN.md)."""
