"""Opening stores: read-only where only reading, one clear error."""

import pytest
from ml_metadata.proto import metadata_store_pb2

from pipeline.metadata import store as metadata_store
from pipeline.metadata import urls


def test_reading_a_missing_sqlite_store_creates_nothing(tmp_path):
    path = tmp_path / "metadata.sqlite"
    with pytest.raises(metadata_store.StoreError, match="nothing has run"):
        metadata_store.open_store(urls.local_sqlite(str(path)),
                                  read_only=True)
    assert not path.exists()


def test_a_read_only_store_refuses_writes(tmp_path):
    url = urls.local_sqlite(str(tmp_path / "metadata.sqlite"))
    writable = metadata_store.open_store(url, read_only=False)
    writable.put_context_type(
        metadata_store_pb2.ContextType(name="pipeline"))
    reader = metadata_store.open_store(url, read_only=True)
    assert [t.name for t in reader.get_context_types()] == ["pipeline"]
    with pytest.raises(Exception, match="(?i)read.?only|readonly"):
        reader.put_context_type(
            metadata_store_pb2.ContextType(name="run"))


@pytest.mark.parametrize("content", [b"not a database\n" * 10, b""])
def test_a_file_that_is_not_a_store_is_named(tmp_path, content):
    path = tmp_path / "metadata.sqlite"
    path.write_bytes(content)
    with pytest.raises(metadata_store.StoreError,
                       match=f"cannot open ML Metadata at sqlite://{path}"):
        metadata_store.open_store(f"sqlite://{path}", read_only=True)
    assert path.read_bytes() == content


def test_unreachable_mysql_is_named_without_its_password():
    with pytest.raises(metadata_store.StoreError) as error:
        metadata_store.open_store("mysql://u:hunter2@127.0.0.1:1/db",
                                  read_only=True)
    assert "mysql://u:***@127.0.0.1:1/db" in str(error.value)
    assert "hunter2" not in str(error.value)
