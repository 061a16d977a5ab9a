from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.base.settings import (
    DEV_JWT_SECRET,
    ConfigError,
    Settings,
    default_sqlite_url,
    get_settings,
    is_placeholder,
    state_dir,
)

GOOD = "x7Qp2mL9vR4tZ8wK3nB6hY1cD5fG0jS2"


def production(env: pytest.MonkeyPatch, **overrides: str) -> None:
    values = {
        "ENVIRONMENT": "production",
        "DATABASE_URL": "postgresql://app@db.example/tally",
        "UPSTASH_REDIS_REST_URL": "https://example.upstash.io",
        "UPSTASH_REDIS_REST_TOKEN": GOOD + "upstash",
        "CRON_SECRET": GOOD + "cron",
        "AUTH_JWT_SECRET": GOOD + "jwt",
    }
    values.update(overrides)
    for name, value in values.items():
        env.setenv(name, value)


def test_defaults_run_locally(env: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert s.environment == "development"
    assert s.database_url == default_sqlite_url()
    assert s.queue_prefix == "tally"
    assert s.max_attempts == 5
    assert s.default_currency is None  # an upload naming no currency is refused
    assert s.cron_secret is None


def test_production_with_good_secrets_starts(env: pytest.MonkeyPatch) -> None:
    production(env)
    assert Settings().is_production


@pytest.mark.parametrize(
    "name", ["CRON_SECRET", "AUTH_JWT_SECRET", "UPSTASH_REDIS_REST_TOKEN", "UPSTASH_REDIS_REST_URL"]
)
def test_production_refuses_missing_secret_naming_it(env: pytest.MonkeyPatch, name: str) -> None:
    production(env)
    env.delenv(name)
    with pytest.raises(ConfigError, match=name):
        Settings()


@pytest.mark.parametrize("value", ["changeme", "change-me-please-now", "secret", "short"])
def test_production_refuses_placeholder(env: pytest.MonkeyPatch, value: str) -> None:
    production(env, CRON_SECRET=value)
    with pytest.raises(ConfigError, match="CRON_SECRET") as info:
        Settings()
    assert value not in str(info.value)


def test_production_refuses_default_sqlite(env: pytest.MonkeyPatch) -> None:
    production(env)
    env.delenv("DATABASE_URL")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Settings()


def test_vercel_kv_names_are_accepted(env: pytest.MonkeyPatch) -> None:
    env.setenv("KV_REST_API_URL", "https://kv.example")
    env.setenv("KV_REST_API_TOKEN", GOOD)
    s = Settings()
    assert s.upstash_redis_rest_url == "https://kv.example"
    assert s.upstash_redis_rest_token.get_secret_value() == GOOD


def test_secrets_are_hidden_in_repr(env: pytest.MonkeyPatch) -> None:
    env.setenv("CRON_SECRET", GOOD)
    s = Settings()
    assert GOOD not in repr(s)
    assert GOOD not in str(s.model_dump())


def test_admin_secret_falls_back_to_cron_secret(env: pytest.MonkeyPatch) -> None:
    env.setenv("CRON_SECRET", GOOD)
    s = Settings()
    assert s.effective_admin_secret is not None
    assert s.effective_admin_secret.get_secret_value() == GOOD


def test_placeholder_detection() -> None:
    assert is_placeholder("your-secret-here-please")
    assert is_placeholder("changeme")
    assert not is_placeholder(GOOD)


def test_empty_values_mean_unset(env: pytest.MonkeyPatch) -> None:
    env.setenv("CRON_SECRET", "")
    env.setenv("ADMIN_SECRET", " ")
    env.setenv("REDIS_URL", "")
    s = Settings()
    assert s.cron_secret is None
    assert s.effective_admin_secret is None
    assert s.redis_url is None


def test_an_empty_jwt_secret_means_the_development_default(env: pytest.MonkeyPatch) -> None:
    env.setenv("AUTH_JWT_SECRET", "")
    assert Settings().auth_jwt_secret.get_secret_value() == DEV_JWT_SECRET
    production(env, AUTH_JWT_SECRET="")
    with pytest.raises(ConfigError, match="AUTH_JWT_SECRET"):
        Settings()


def test_production_refuses_any_sqlite_database(env: pytest.MonkeyPatch) -> None:
    production(env, DATABASE_URL="sqlite:////tmp/prod.db")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Settings()


def test_env_example_and_readme_name_every_variable() -> None:
    import re
    from pathlib import Path

    from core.base.settings import environment_names

    root = Path(__file__).resolve().parents[3]
    example = (root / ".env.example").read_text()
    readme = (root / "README.md").read_text()
    for name in environment_names():
        assert re.search(rf"^#?\s*{name}=", example, re.MULTILINE), f"{name} not in .env.example"
        assert f"`{name}`" in readme, f"{name} not in the README"


def test_env_example_copied_as_is_is_a_working_development_setup(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = Path(__file__).resolve().parents[3]
    (tmp_path / ".env").write_text((root / ".env.example").read_text())
    s = Settings()  # the env fixture made tmp_path the working directory
    assert s.environment == "development"
    assert s.cron_secret is None
    assert s.auth_jwt_secret.get_secret_value() == DEV_JWT_SECRET


def test_the_sqlite_file_lives_in_the_state_folder_wherever_started(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The `env` fixture points TALLY_STATE_DIR at this test's folder; without it, the state
    # folder is the checkout's `.tally/`, not one relative to the working directory.
    assert Settings().database_url == f"sqlite:///{tmp_path / '.tally' / 'tally.db'}"
    env.delenv("TALLY_STATE_DIR")
    root = Path(__file__).resolve().parents[3]
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    env.chdir(elsewhere)
    assert state_dir() == root / ".tally"
    assert Settings().database_url == f"sqlite:///{root / '.tally' / 'tally.db'}"


def test_the_dev_state_file_is_read_and_the_environment_wins(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / ".tally"
    folder.mkdir(exist_ok=True)
    (folder / "dev.env").write_text(f"CRON_SECRET={GOOD}\nADMIN_SECRET={GOOD}admin\n")
    settings = get_settings()
    assert settings.cron_secret is not None
    assert settings.cron_secret.get_secret_value() == GOOD
    env.setenv("ADMIN_SECRET", GOOD + "shell")
    get_settings.cache_clear()
    admin = get_settings().admin_secret
    assert admin is not None
    assert admin.get_secret_value() == GOOD + "shell"


def test_production_with_a_jwks_needs_no_shared_secret(env: pytest.MonkeyPatch) -> None:
    production(env, AUTH_JWKS_URL="https://idp.example/.well-known/jwks.json")
    env.setenv("AUTH_JWT_ISSUER", "https://idp.example/")
    env.delenv("AUTH_JWT_SECRET")

    assert Settings().auth_jwks_url == "https://idp.example/.well-known/jwks.json"


@pytest.mark.parametrize(
    ("url", "issuer", "message"),
    [
        ("http://idp.example/jwks.json", "https://idp.example/", "AUTH_JWKS_URL must be an https"),
        ("https://idp.example/jwks.json", "", "AUTH_JWT_ISSUER is required"),
    ],
)
def test_production_refuses_an_unsafe_jwks_setup(
    env: pytest.MonkeyPatch, url: str, issuer: str, message: str
) -> None:
    production(env, AUTH_JWKS_URL=url, AUTH_JWT_ISSUER=issuer)

    with pytest.raises(ConfigError, match=message):
        Settings()


def test_a_jwks_without_the_jwks_extra_is_refused_at_start_naming_it(
    env: pytest.MonkeyPatch,
) -> None:
    production(env, AUTH_JWKS_URL="https://idp.example/jwks.json")
    env.setenv("AUTH_JWT_ISSUER", "https://idp.example/")
    env.delenv("AUTH_JWT_SECRET")
    env.setitem(sys.modules, "cryptography", None)  # what an install without the extra sees

    with pytest.raises(ConfigError, match=r"tally\[jwks\]"):
        Settings()
