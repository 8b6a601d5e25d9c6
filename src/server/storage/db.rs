//! The data dir's database (redb): opening with its checks, the writer
//! thread, reading everything back, and the JSON import/export.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use redb::{Database, DatabaseError, Durability, ReadableTable, TableDefinition, TableError};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::{oneshot, watch};

use super::{
    Change, CommitMode, Journal, Progress, Queue, Snapshot, Storage, Table, FORMAT_VERSION,
};

/// The database file inside the data dir.
const FILE_NAME: &str = "pubnub-dev-server.redb";
/// The format version and the file salt live here.
const META: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("meta");
const FORMAT_KEY: &str = "format_version";
const SALT_KEY: &str = "file_salt";
const CLOCK_KEY: &str = "last_timetoken";
/// What an export file says it is.
const EXPORT_FORMAT: &str = "pubnub-rx dev server data";

/// A redb error, boxed (redb's is large) and converted from each of its
/// parts by `?`.
#[derive(Debug)]
struct DbError(Box<redb::Error>);

impl<E: Into<redb::Error>> From<E> for DbError {
    fn from(error: E) -> Self {
        Self(Box::new(error.into()))
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

fn definition(table: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(table.name())
}

/// Why the data dir could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The directory could not be created or read.
    #[error("data dir {dir}: {source}; check the path and its permissions")]
    Io {
        /// The data dir.
        dir: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the database open.
    #[error(
        "data dir {dir} is in use by another pubnub-dev-server (its database is locked); \
         stop that server or pick another --data-dir"
    )]
    Locked {
        /// The data dir.
        dir: PathBuf,
    },
    /// The database file is damaged or not a database.
    #[error(
        "data dir {dir}: {FILE_NAME} cannot be opened ({reason}); it is damaged or not a \
         pubnub-dev-server database: move it away to start empty, or pick another --data-dir"
    )]
    Unreadable {
        /// The data dir.
        dir: PathBuf,
        /// What the database reported.
        reason: String,
    },
    /// The database was written by a newer server.
    #[error(
        "data dir {dir} was written by a newer pubnub-dev-server (format {found}; this one \
         reads up to {supported}); run that version, or export with it (--export) and import here"
    )]
    NewerFormat {
        /// The data dir.
        dir: PathBuf,
        /// The format found.
        found: u32,
        /// The newest format this server reads.
        supported: u32,
    },
    /// A record could not be read back.
    #[error(
        "data dir: a record of table `{table}` cannot be read ({reason}); the data dir is \
         damaged or from an incompatible build: move it away to start empty"
    )]
    Record {
        /// The table.
        table: &'static str,
        /// The decoding error.
        reason: String,
    },
    /// An import file could not be read.
    #[error("cannot import {path}: {reason}")]
    Import {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// An export could not be written.
    #[error("cannot export to {path}: {reason}")]
    Export {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

impl StorageError {
    pub(super) fn record(table: Table, error: &impl std::fmt::Display) -> Self {
        Self::Record {
            table: table.name(),
            reason: error.to_string(),
        }
    }
}

fn unreadable(dir: &Path, error: impl std::fmt::Display) -> StorageError {
    StorageError::Unreadable {
        dir: dir.to_owned(),
        reason: error.to_string(),
    }
}

/// What a data dir is opened for.
#[derive(Clone, Copy)]
enum Purpose<'a> {
    /// A server: imports the file first when given (into an empty dir) and
    /// stamps the format version and the file salt.
    Serve { import: Option<&'a Path> },
    /// An export: read only, nothing written.
    Export,
}

/// Opens (or creates) the database of `dir`, checking its format.
fn open_database(dir: &Path, purpose: Purpose<'_>) -> Result<Database, StorageError> {
    std::fs::create_dir_all(dir).map_err(|source| StorageError::Io {
        dir: dir.to_owned(),
        source,
    })?;
    let db = Database::create(dir.join(FILE_NAME)).map_err(|error| match error {
        DatabaseError::DatabaseAlreadyOpen => StorageError::Locked {
            dir: dir.to_owned(),
        },
        // Permissions, a read-only or full disk: the file may be fine.
        // (redb reports a file it cannot parse as `InvalidData`.)
        DatabaseError::Storage(redb::StorageError::Io(source))
            if !matches!(
                source.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            StorageError::Io {
                dir: dir.to_owned(),
                source,
            }
        }
        DatabaseError::UpgradeRequired(version) => unreadable(
            dir,
            format!(
                "its file format ({version}) is not the one this build of redb writes; \
                 open it with the pubnub-dev-server that wrote it and --export"
            ),
        ),
        other => unreadable(dir, other),
    })?;
    let read = db.begin_read().map_err(|e| unreadable(dir, e))?;
    let format = match read.open_table(META) {
        Ok(meta) => match meta.get(FORMAT_KEY).map_err(|e| unreadable(dir, e))? {
            Some(value) => Some(parse_format(dir, value.value())?),
            None => None,
        },
        Err(TableError::TableDoesNotExist(_)) => None,
        Err(other) => return Err(unreadable(dir, other)),
    };
    let has_data = Table::ALL.into_iter().any(|table| {
        read.open_table(definition(table))
            .is_ok_and(|t| t.first().ok().flatten().is_some())
    });
    drop(read);
    match format {
        Some(found) if found > FORMAT_VERSION => {
            return Err(StorageError::NewerFormat {
                dir: dir.to_owned(),
                found,
                supported: FORMAT_VERSION,
            })
        }
        // Older formats are migrated here when there are any (1 is the first).
        Some(_) => {}
        None if has_data => {
            return Err(unreadable(
                dir,
                "it holds tables but no format version (not written by pubnub-dev-server)",
            ))
        }
        None => {}
    }
    let Purpose::Serve { import } = purpose else {
        return Ok(db);
    };
    if let Some(path) = import {
        if has_data {
            return Err(StorageError::Import {
                path: path.to_owned(),
                reason: format!(
                    "the data dir {} already holds data; import into an empty one",
                    dir.display()
                ),
            });
        }
        let snapshot = read_export(path)?;
        write_snapshot(&db, &snapshot).map_err(|e| unreadable(dir, e))?;
    }
    write_meta(&db).map_err(|e| unreadable(dir, e))?;
    Ok(db)
}

fn parse_format(dir: &Path, bytes: &[u8]) -> Result<u32, StorageError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| unreadable(dir, "its format version is not a number"))
}

/// Writes the format version, and a file salt if there is none yet.
fn write_meta(db: &Database) -> Result<(), DbError> {
    let tx = db.begin_write()?;
    {
        let mut meta = tx.open_table(META)?;
        meta.insert(FORMAT_KEY, FORMAT_VERSION.to_string().as_bytes())?;
        if meta.get(SALT_KEY)?.is_none() {
            let salt: [u8; 32] = rand::random();
            meta.insert(SALT_KEY, salt.as_slice())?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn write_last_timetoken(db: &Database, last: u64) -> Result<(), DbError> {
    let tx = db.begin_write()?;
    tx.open_table(META)?
        .insert(CLOCK_KEY, last.to_string().as_bytes())?;
    tx.commit()?;
    Ok(())
}

/// Reads every table back.
fn read_snapshot(db: &Database) -> Result<Snapshot, DbError> {
    let read = db.begin_read()?;
    let mut snapshot = Snapshot::default();
    for table in Table::ALL {
        let opened = match read.open_table(definition(table)) {
            Ok(opened) => opened,
            Err(TableError::TableDoesNotExist(_)) => continue,
            Err(other) => return Err(other.into()),
        };
        for entry in opened.iter()? {
            let (key, value) = entry?;
            snapshot.insert(table, key.value().to_vec(), value.value().to_vec());
        }
    }
    if let Ok(meta) = read.open_table(META) {
        if let Some(salt) = meta.get(SALT_KEY)? {
            snapshot.file_salt = salt.value().try_into().ok();
        }
        if let Some(last) = meta.get(CLOCK_KEY)? {
            snapshot.last_timetoken = std::str::from_utf8(last.value())
                .ok()
                .and_then(|text| text.parse().ok());
        }
    }
    Ok(snapshot)
}

fn write_snapshot(db: &Database, snapshot: &Snapshot) -> Result<(), DbError> {
    let tx = db.begin_write()?;
    for (table, records) in &snapshot.tables {
        let mut opened = tx.open_table(definition(*table))?;
        for (key, value) in records {
            opened.insert(key.as_slice(), value.as_slice())?;
        }
    }
    // In the same transaction: an import cut short leaves nothing.
    tx.open_table(META)?
        .insert(FORMAT_KEY, FORMAT_VERSION.to_string().as_bytes())?;
    if let Some(salt) = snapshot.file_salt {
        tx.open_table(META)?.insert(SALT_KEY, salt.as_slice())?;
    }
    if let Some(last) = snapshot.last_timetoken {
        tx.open_table(META)?
            .insert(CLOCK_KEY, last.to_string().as_bytes())?;
    }
    tx.commit()?;
    Ok(())
}

/// Commits one batch of changes with an fsync.
fn commit(db: &Database, batch: &[Change]) -> Result<(), DbError> {
    let mut tx = db.begin_write()?;
    tx.set_durability(Durability::Immediate);
    {
        let mut tables = BTreeMap::new();
        for change in batch {
            let table = match tables.entry(change.table) {
                Entry::Occupied(open) => open.into_mut(),
                Entry::Vacant(slot) => slot.insert(tx.open_table(definition(change.table))?),
            };
            match &change.value {
                Some(value) => {
                    table.insert(change.key.as_slice(), value.as_slice())?;
                }
                None => {
                    table.remove(change.key.as_slice())?;
                }
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// The writer thread: commits batches until the journal is closed and
/// drained, then closes the database and says so.
fn write_loop(db: Database, journal: &Journal, done: oneshot::Sender<()>) {
    /// Says the writer stopped if it ends by a panic, so that no request
    /// waits for a commit that will never come.
    struct Stopped<'a>(&'a Journal);
    impl Drop for Stopped<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0
                    .failed("the data dir's writer thread stopped".to_owned());
            }
        }
    }
    let _stopped = Stopped(journal);
    let mut failed = false;
    while let Some((batch, ticket)) = journal.take() {
        if failed {
            continue;
        }
        match commit(&db, &batch) {
            Ok(()) => journal.committed(ticket),
            Err(error) => {
                failed = true;
                journal.failed(error.to_string());
            }
        }
    }
    let last = journal
        .last_timetoken
        .load(std::sync::atomic::Ordering::Acquire);
    if !failed && last > 0 {
        if let Err(error) = write_last_timetoken(&db, last) {
            tracing::warn!(%error, "the clock's last timetoken was not kept");
        }
    }
    drop(db);
    let _ = done.send(());
}

/// Opens the data dir `dir` (after importing `import` into it, when given)
/// and reads back what it holds; starts the writer thread. Without `dir`,
/// an in-memory storage, loaded from `import` when given. Blocking: call it
/// from a blocking context.
pub(crate) fn open(
    dir: Option<&Path>,
    mode: CommitMode,
    import: Option<&Path>,
) -> Result<(Storage, Snapshot), StorageError> {
    let Some(dir) = dir else {
        let snapshot = import.map(read_export).transpose()?.unwrap_or_default();
        return Ok((Storage::memory(), snapshot));
    };
    let db = open_database(dir, Purpose::Serve { import })?;
    let snapshot = read_snapshot(&db).map_err(|e| unreadable(dir, e))?;
    let (done_tx, done_rx) = oneshot::channel();
    let journal = Arc::new(Journal {
        queue: Mutex::new(Queue::default()),
        ready: std::sync::Condvar::new(),
        progress: watch::Sender::new(Progress::default()),
        mode,
        dir: dir.to_owned(),
        done: Mutex::new(Some(done_rx)),
        last_timetoken: std::sync::atomic::AtomicU64::new(0),
    });
    let writer = journal.clone();
    std::thread::Builder::new()
        .name("pubnub-data-dir".to_owned())
        .spawn(move || write_loop(db, &writer, done_tx))
        .map_err(|source| StorageError::Io {
            dir: dir.to_owned(),
            source,
        })?;
    Ok((
        Storage {
            journal: Some(journal),
        },
        snapshot,
    ))
}

/// One record of an export file.
#[derive(Serialize, Deserialize)]
struct ExportRecord {
    key: Box<RawValue>,
    /// JSON values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<Box<RawValue>>,
    /// Raw values (file contents), base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
}

/// An export file: the data dir's tables as JSON.
#[derive(Serialize, Deserialize)]
struct ExportFile {
    format: String,
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file_salt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_timetoken: Option<u64>,
    tables: BTreeMap<String, Vec<ExportRecord>>,
}

fn raw_json(bytes: &[u8]) -> Result<Box<RawValue>, String> {
    let text = String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())?;
    RawValue::from_string(text).map_err(|e| e.to_string())
}

/// Writes the data dir `dir` to `out` as one JSON file. The dir must not be
/// in use by a running server.
pub(crate) fn export_json(dir: &Path, out: &Path) -> Result<usize, StorageError> {
    // Never create a data dir to export it.
    if !dir.join(FILE_NAME).is_file() {
        return Err(StorageError::Io {
            dir: dir.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no {FILE_NAME} here: not a data dir"),
            ),
        });
    }
    let db = open_database(dir, Purpose::Export)?;
    let snapshot = read_snapshot(&db).map_err(|e| unreadable(dir, e))?;
    drop(db);
    let export_error = |reason: String| StorageError::Export {
        path: out.to_owned(),
        reason,
    };
    let mut tables = BTreeMap::new();
    let mut count = 0;
    for (table, records) in &snapshot.tables {
        let mut list = Vec::with_capacity(records.len());
        for (key, value) in records {
            let key = raw_json(key).map_err(export_error)?;
            list.push(if table.is_raw() {
                ExportRecord {
                    key,
                    value: None,
                    base64: Some(STANDARD.encode(value)),
                }
            } else {
                ExportRecord {
                    key,
                    value: Some(raw_json(value).map_err(export_error)?),
                    base64: None,
                }
            });
        }
        count += list.len();
        tables.insert(table.name().to_owned(), list);
    }
    let file = ExportFile {
        format: EXPORT_FORMAT.to_owned(),
        version: FORMAT_VERSION,
        file_salt: snapshot.file_salt.map(|salt| STANDARD.encode(salt)),
        last_timetoken: snapshot.last_timetoken,
        tables,
    };
    // Written beside `out` and renamed over it: a failed export leaves the
    // previous one whole.
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let written = File::create(&partial).and_then(|created| {
        let mut writer = BufWriter::new(created);
        serde_json::to_writer(&mut writer, &file)?;
        writer.flush()?;
        writer.get_ref().sync_all()
    });
    if let Err(error) = written.and_then(|()| std::fs::rename(&partial, out)) {
        let _ = std::fs::remove_file(&partial);
        return Err(export_error(error.to_string()));
    }
    Ok(count)
}

/// Reads an export file back into a snapshot.
fn read_export(path: &Path) -> Result<Snapshot, StorageError> {
    let import_error = |reason: String| StorageError::Import {
        path: path.to_owned(),
        reason,
    };
    let file = File::open(path).map_err(|e| import_error(e.to_string()))?;
    let export: ExportFile = serde_json::from_reader(BufReader::new(file))
        .map_err(|e| import_error(format!("not an export file: {e}")))?;
    if export.format != EXPORT_FORMAT {
        return Err(import_error(format!(
            "not an export file (format {:?})",
            export.format
        )));
    }
    if export.version > FORMAT_VERSION {
        return Err(import_error(format!(
            "written by a newer pubnub-dev-server (format {}; this one reads up to {FORMAT_VERSION})",
            export.version
        )));
    }
    let mut snapshot = Snapshot {
        file_salt: export
            .file_salt
            .map(|salt| {
                STANDARD
                    .decode(salt)
                    .ok()
                    .and_then(|salt| <[u8; 32]>::try_from(salt).ok())
                    .ok_or_else(|| import_error("`file_salt` is not 32 bytes in base64".to_owned()))
            })
            .transpose()?,
        last_timetoken: export.last_timetoken,
        ..Snapshot::default()
    };
    for (name, records) in export.tables {
        let table = Table::from_name(&name)
            .ok_or_else(|| import_error(format!("unknown table `{name}`")))?;
        for record in records {
            let value = match (table.is_raw(), record.value, record.base64) {
                (false, Some(value), _) => value.get().as_bytes().to_vec(),
                (true, _, Some(encoded)) => STANDARD
                    .decode(encoded)
                    .map_err(|e| import_error(format!("table `{name}`: {e}")))?,
                _ => {
                    return Err(import_error(format!(
                        "table `{name}`: a record without its value"
                    )))
                }
            };
            // Keys are matched as bytes: a hand-edited key with spaces must
            // still be the key the server writes (field order is kept).
            let key = crate::server::message::minify_json(record.key.get());
            snapshot.insert(table, key.into_bytes(), value);
        }
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data dir whose database holds `meta` (format version) and one
    /// message record, written behind the server's back.
    fn data_dir_with(format: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Database::create(dir.path().join(FILE_NAME)).expect("database");
        let tx = db.begin_write().expect("write");
        {
            if let Some(format) = format {
                let mut meta = tx.open_table(META).expect("meta");
                meta.insert(FORMAT_KEY, format.as_bytes()).expect("insert");
            }
            let mut messages = tx
                .open_table(definition(Table::Messages))
                .expect("messages");
            messages
                .insert(br#"["demo",1]"#.as_slice(), br#"{}"#.as_slice())
                .expect("insert");
        }
        tx.commit().expect("commit");
        dir
    }

    #[test]
    fn a_newer_format_is_refused_with_both_versions() {
        let dir = data_dir_with(Some("2"));
        match open_database(dir.path(), Purpose::Serve { import: None }) {
            Err(StorageError::NewerFormat {
                found, supported, ..
            }) => assert_eq!((found, supported), (2, FORMAT_VERSION)),
            other => panic!("expected NewerFormat, got {other:?}"),
        }
    }

    #[test]
    fn tables_without_a_format_version_are_not_taken_for_an_empty_store() {
        let dir = data_dir_with(None);
        match open_database(dir.path(), Purpose::Serve { import: None }) {
            Err(error @ StorageError::Unreadable { .. }) => {
                assert!(error.to_string().contains("no format version"), "{error}");
            }
            other => panic!("expected Unreadable, got {other:?}"),
        }
        let garbled = data_dir_with(Some("one"));
        assert!(matches!(
            open_database(garbled.path(), Purpose::Serve { import: None }),
            Err(StorageError::Unreadable { .. })
        ));
    }

    #[test]
    fn a_record_this_build_cannot_decode_is_an_error_not_a_gap() {
        let dir = data_dir_with(Some("1"));
        let db = open_database(dir.path(), Purpose::Serve { import: None }).expect("opens");
        let mut snapshot = read_snapshot(&db).expect("reads");
        // The message record is `{}`: no timetoken, no channel.
        let decoded = snapshot.records::<u64, crate::server::message::KeptMessage>(Table::Messages);
        match decoded {
            Err(error @ StorageError::Record { .. }) => {
                assert!(error.to_string().contains("messages"), "{error}");
            }
            other => panic!("expected Record, got {other:?}"),
        }
    }

    #[test]
    fn the_current_format_opens_and_reads_back_what_was_committed() {
        let dir = data_dir_with(Some("1"));
        let db = open_database(dir.path(), Purpose::Serve { import: None }).expect("opens");
        let change = |key: &[u8], value: Option<&[u8]>| Change {
            table: Table::Groups,
            key: key.to_vec(),
            value: value.map(<[u8]>::to_vec),
        };
        commit(
            &db,
            &[
                change(br#"["demo","a"]"#, Some(br#"["x"]"#)),
                change(br#"["demo","b"]"#, Some(br#"["y"]"#)),
                change(br#"["demo","a"]"#, None),
            ],
        )
        .expect("commit");
        let mut snapshot = read_snapshot(&db).expect("reads");
        let groups = snapshot
            .records::<String, Vec<String>>(Table::Groups)
            .expect("decodes");
        let kept: Vec<(&str, &str, &[String])> = groups
            .iter()
            .map(|r| (r.subscribe_key.as_str(), r.key.as_str(), r.value.as_slice()))
            .collect();
        assert_eq!(kept, [("demo", "b", &["y".to_owned()][..])]);
        assert!(snapshot.file_salt.is_some(), "a salt is made once");
    }
}
