"""Small named settings stored in the catalog (a calibrated threshold, index limits)."""

from __future__ import annotations

import json
from typing import Any

from faceatlas.catalog._base import CatalogBase, Migration, now

MIGRATIONS: list[Migration] = [
    (
        "0005_settings",
        """
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,             -- JSON
            updated_at TEXT NOT NULL
        );
        """,
    ),
]


class SettingsMixin(CatalogBase):
    """JSON values under text keys, e.g. ``calibration/sface/2021dec-int8bq``."""

    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_setting(self, key: str, value: Any) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?, ?, ?)",
                (key, json.dumps(value, sort_keys=True), now()),
            )

    def delete_setting(self, key: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM settings WHERE key = ?", (key,))

    def settings(self) -> dict[str, Any]:
        return {
            r[0]: json.loads(r[1])
            for r in self.query("SELECT key, value FROM settings ORDER BY key")
        }
