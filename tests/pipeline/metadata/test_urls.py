"""Store URLs: parsed, checked, redacted; the connection configs they make."""

import logging

import pytest

from pipeline.metadata import urls


def test_grpc_url():
    config = urls.parse(
        "grpc://metadata-grpc-service.kubeflow:8080").connection_config()
    assert (config.host, config.port) == (
        "metadata-grpc-service.kubeflow", 8080)


def test_mysql_url_with_password_from_env(monkeypatch):
    monkeypatch.setenv(urls.MYSQL_PASSWORD_ENV, "s3cret")
    config = urls.parse("mysql://mlmd@db:3307/metadb").connection_config()
    assert (config.mysql.host, config.mysql.port, config.mysql.database,
            config.mysql.user, config.mysql.password) == (
                "db", 3307, "metadb", "mlmd", "s3cret")
    inline = urls.parse("mysql://u:p%40ss@db/metadb").connection_config()
    assert inline.mysql.password == "p@ss" and inline.mysql.port == 3306


def test_sqlite_opens_read_only_only_when_asked(tmp_path):
    url = urls.local_sqlite(str(tmp_path / "m.sqlite"))
    modes = urls.metadata_store_pb2.SqliteMetadataSourceConfig
    assert url.connection_config().sqlite.connection_mode == \
        modes.READWRITE_OPENCREATE
    assert url.connection_config(read_only=True).sqlite.connection_mode == \
        modes.READONLY
    assert urls.parse(str(url)) == url


@pytest.mark.parametrize("url,words", [
    ("http://host:80", "has scheme 'http'"),
    ("metadata.sqlite", "is not a URL"),
    ("grpc://host", "needs a host and a port"),
    ("grpc://host:80/db", "needs a host and a port"),
    ("grpc://host:port", "port that is not a number"),
    ("grpc://host:99999", "port that is not a number"),
    ("mysql://user@host:3306/", "needs a host and a database"),
    ("mysql://user@:3306/db", "needs a host and a database"),
    ("mysql://user@host/db?password=x", "has a query or fragment"),
    ("sqlite://relative/path", "three slashes"),
])
def test_bad_urls_are_named(url, words):
    with pytest.raises(urls.MetadataUrlError, match=words):
        urls.parse(url)


@pytest.mark.parametrize("url", [
    "mysql://u:s3cret@db:3306/m",
    "mysql://u:s3%40cret@db/m",
    "mysql://u:s3@cret@db/m",
])
def test_passwords_never_show(url):
    parsed = urls.parse(url)
    for text in (str(parsed), repr(parsed), urls.redact(f"at {url} now")):
        assert "s3" not in text and "cret" not in text, text
    with pytest.raises(urls.MetadataUrlError, match="--metadata-secret") \
            as error:
        urls.parse_for_package(url)
    assert "s3" not in str(error.value)
    with pytest.raises(urls.MetadataUrlError) as error:
        urls.parse(url.replace("db", "db:port"))
    assert "s3" not in str(error.value)


def test_redact_leaves_other_text_alone():
    assert urls.redact("grpc://h:8080 and mysql://u@h/db") == \
        "grpc://h:8080 and mysql://u@h/db"
    assert urls.redact("mysql://u:pw@h/db") == "mysql://u:***@h/db"


def test_log_records_are_redacted(caplog):
    logger = logging.getLogger("test_urls")
    caplog.handler.addFilter(urls.RedactingFilter())
    with caplog.at_level(logging.INFO, logger="test_urls"):
        logger.info("connecting to %s", "mysql://u:pw@h/db")
    assert caplog.records[0].getMessage() == "connecting to mysql://u:***@h/db"
