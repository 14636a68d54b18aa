"""Process settings from the environment (SIS_*)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from db.engine import database_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIS_", extra="ignore")

    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    demo_mode: bool = False

    def resolved_database_url(self) -> str:
        """SIS_DATABASE_URL, or the embedded SQLite file under the working directory."""
        return self.database_url or database_url()
