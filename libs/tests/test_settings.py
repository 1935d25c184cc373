"""Settings: parsed once from AM_ variables; a bad value names its variable."""

from __future__ import annotations

import pytest

from libs.obs.settings import CommonSettings, SettingsError, load_settings


def test_settings_from_env() -> None:
    s = load_settings(CommonSettings, {"AM_HTTP_PORT": "8123", "AM_ENV": "prod", "OTHER": "x"})
    assert s.http_port == 8123 and s.env == "prod"


def test_bad_setting_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="AM_HTTP_PORT"):
        load_settings(CommonSettings, {"AM_HTTP_PORT": "eighty"})
