"""The admin API (/admin/api/*): bearer tokens from RELAIS_ADMIN_TOKENS, on every route."""
