//! The Craton backend (`type = craton`): the inventory kept in an OpenStack Craton
//! server, and the fleet it describes made visible to Craton's users.
//!
//! # What is stored where
//!
//! In the project of the configured credentials, in cloud `cloud`:
//!
//! * region `region` holds the fleet: one Craton host per host of the inventory, with
//!   its groups as labels and its host variables as variables ([`fleet`]).
//! * region `osa-inventory.<region>` holds the inventory itself, as cells, none of which
//!   has hosts (so nothing stored there resolves into any host's variables):
//!   * `revision-0000000001`, `revision-0000000002`, ...: one cell per write, named by
//!     its revision, its `note` the one-line summary of the change. The newest
//!     [`KEEP_REVISIONS`] hold the exact text in the variable `inventory` (compressed, with
//!     its SHA-256 and the time of the write); older cells keep only their name and note,
//!     the history.
//!   * `synced-fleet`: its `note` says which revision the fleet matches; its variable
//!     `hosts` maps host names to Craton host ids.
//!
//! # Writing
//!
//! A cell name is unique in its region, so creating `revision-N+1` is a compare-and-set:
//! of two runs that loaded revision N, one creates it and the other gets `409` and the
//! conflict error. Creating the cell (one request, with its variables) is the commit:
//! the new inventory is stored whole or not at all. The fleet is brought in line after:
//! only the hosts that changed since the loaded revision, when `synced-fleet` says the
//! fleet matches it; otherwise (a write interrupted, a first write) by reading every host
//! of the region and correcting what differs. Until then [`CratonBackend::needs_write`]
//! asks for a write even when the inventory is unchanged.
//!
//! # Loading
//!
//! One request lists the newest cells of the store region. When the newest revision is
//! the one in the local cache ([`cache`]), that text is used; otherwise it is downloaded.

pub mod cache;
pub mod client;
pub mod config;
pub mod fleet;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::time::{Instant, SystemTime};

use base64::Engine;
use inventory_backend::{BackendError, Settings, StorageBackend};
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::fsutil::{FileLock, LockMode};

use self::cache::{Cache, Entry, Places, RevisionCell};
use self::client::{Api, ApiError};
pub use self::config::CratonConfig;
use self::fleet::Fleet;

/// How many revisions keep their text (older ones keep their name and summary).
pub const KEEP_REVISIONS: u64 = 15;

const STORE_REGION_PREFIX: &str = "osa-inventory.";
const REVISION_PREFIX: &str = "revision-";
const REVISION_DIGITS: usize = 10;
/// Sorts before every revision cell when names are listed in descending order.
const STATE_CELL: &str = "synced-fleet";
const STATE_NOTE_PREFIX: &str = "fleet synced to revision ";
const INVENTORY_KEY: &str = "inventory";
const HOSTS_KEY: &str = "hosts";
const BLOB_FORMAT: &str = "zlib+base64";
/// The first page of the store region's cells, newest first: the state cell and the
/// newest revisions, including the one a write retires.
const CELL_PAGE: usize = KEEP_REVISIONS as usize + 5;
/// Craton's largest page.
const HOST_PAGE: usize = 100;
/// A stored text larger than this is refused on download (a hostile answer could claim
/// anything).
const MAX_TEXT: u64 = 4 << 30;

/// The hex SHA-256 of `bytes`.
pub(crate) fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The cloud and regions of a deployment, those that exist.
#[derive(Debug, Clone, Copy, Default)]
struct Found {
    cloud: Option<i64>,
    fleet_region: Option<i64>,
    store_region: Option<i64>,
}

impl Found {
    fn places(self) -> Option<Places> {
        Some(Places {
            cloud: self.cloud?,
            fleet_region: self.fleet_region?,
            store_region: self.store_region?,
        })
    }
}

impl From<Places> for Found {
    fn from(p: Places) -> Found {
        Found {
            cloud: Some(p.cloud),
            fleet_region: Some(p.fleet_region),
            store_region: Some(p.store_region),
        }
    }
}

/// What `load` found in Craton.
struct Snapshot {
    found: Found,
    /// The store region's cells, as listed (newest revisions).
    cells: StoreCells,
    /// The text of the newest revision.
    text: Option<String>,
}

#[derive(Default)]
struct StoreCells {
    /// Revision cells, newest first.
    revisions: Vec<RevisionCell>,
    state: Option<StateCell>,
}

impl StoreCells {
    fn latest(&self) -> Option<&RevisionCell> {
        self.revisions.first()
    }

    fn latest_revision(&self) -> u64 {
        self.latest().map_or(0, |c| c.revision)
    }
}

#[derive(Clone, Copy)]
struct StateCell {
    id: i64,
    /// The revision the fleet was last brought in line with.
    synced: Option<u64>,
}

/// The Craton backend (see the module docs).
pub struct CratonBackend {
    config: CratonConfig,
    api: Option<Api>,
    cache: Cache,
    /// Held from `load` until `write` finishes or the backend is dropped.
    lock: Option<FileLock>,
    /// Whether `lock` is the exclusive one `load` takes (`load_for_reading` shares it).
    exclusive: bool,
    snapshot: Option<Snapshot>,
}

impl CratonBackend {
    pub fn new(config: CratonConfig) -> CratonBackend {
        let identity = format!(
            "{} {} {} {}",
            config.url, config.project, config.cloud, config.region
        );
        let cache = Cache::new(&config.cache_dir, identity);
        CratonBackend {
            config,
            api: None,
            cache,
            lock: None,
            exclusive: false,
            snapshot: None,
        }
    }

    fn api(&mut self) -> Result<&Api, BackendError> {
        if self.api.is_none() {
            self.api = Some(Api::new(&self.config).map_err(BackendError::new)?);
        }
        Ok(self.api.as_ref().expect("set above"))
    }

    fn store_region_name(&self) -> String {
        format!("{STORE_REGION_PREFIX}{}", self.config.region)
    }

    /// Finds the cloud and the regions (`None` for what does not exist yet).
    fn discover(&mut self) -> Result<Found, BackendError> {
        let cloud_name = self.config.cloud.clone();
        let region = self.config.region.clone();
        let store = self.store_region_name();
        let api = self.api()?;
        let Some(cloud) = find_cloud(api, &cloud_name)? else {
            return Ok(Found::default());
        };
        let regions = regions_of(api, cloud)?;
        Ok(Found {
            cloud: Some(cloud),
            fleet_region: regions.get(&region).copied(),
            store_region: regions.get(&store).copied(),
        })
    }

    /// Lists the store region's newest cells.
    fn list_store(&mut self, store_region: i64) -> Result<StoreCells, BackendError> {
        let api = self.api()?;
        let path = format!(
            "/cells?region_id={store_region}&sort_keys=name,id&sort_dir=desc&limit={CELL_PAGE}"
        );
        let answer = api.get(&path).map_err(fault)?;
        let cells = answer["cells"]
            .as_array()
            .ok_or_else(|| bad_answer("GET", &path, "no \"cells\" list"))?;
        let mut found = StoreCells::default();
        for cell in cells {
            let (Some(name), Some(id)) = (cell["name"].as_str(), cell["id"].as_i64()) else {
                return Err(bad_answer("GET", &path, "a cell without name or id"));
            };
            if name == STATE_CELL {
                let synced = cell["note"]
                    .as_str()
                    .and_then(|n| n.strip_prefix(STATE_NOTE_PREFIX))
                    .and_then(|n| n.parse().ok());
                found.state = Some(StateCell { id, synced });
            } else if let Some(revision) = parse_revision_name(name) {
                found.revisions.push(RevisionCell {
                    revision,
                    id,
                    created_at: cell["created_at"].as_str().unwrap_or_default().to_string(),
                });
            }
        }
        // Listed by name, which orders revisions: the zero padding makes it numeric.
        found
            .revisions
            .sort_by_key(|c| std::cmp::Reverse(c.revision));
        Ok(found)
    }

    fn survey(&mut self) -> Result<Snapshot, BackendError> {
        // The cached places are tried first: one request when nothing moved.
        if let Some(entry) = self.cache.read() {
            let cells = self.list_store(entry.places.store_region)?;
            if cells.latest() == Some(&entry.cell) {
                return Ok(Snapshot {
                    found: entry.places.into(),
                    cells,
                    text: Some(entry.text),
                });
            }
        }
        // Found by name before anything is downloaded: cached ids may be stale.
        let found = self.discover()?;
        let cells = match found.store_region {
            Some(id) => self.list_store(id)?,
            None => StoreCells::default(),
        };
        let text = match (found.places(), cells.latest()) {
            (Some(places), Some(latest)) => {
                let latest = latest.clone();
                let text = self.download(&latest)?;
                self.remember(places, latest, &text);
                Some(text)
            }
            _ => None,
        };
        Ok(Snapshot { found, cells, text })
    }

    fn download(&mut self, cell: &RevisionCell) -> Result<String, BackendError> {
        let path = format!("/cells/{}/variables", cell.id);
        let answer = self.api()?.get(&path).map_err(fault)?;
        decode_blob(&answer["variables"][INVENTORY_KEY]).map_err(|why| {
            BackendError::new(format_args!(
                "revision {} of the inventory in Craton (cell {}) is unusable: {why}",
                cell.revision, cell.id
            ))
        })
    }

    /// Updates the cache; a failure only costs a download later, so it is reported and
    /// otherwise ignored.
    fn remember(&self, places: Places, cell: RevisionCell, text: &str) {
        let entry = Entry {
            places,
            cell,
            text: text.to_string(),
        };
        if let Err(e) = self.cache.write(&entry) {
            eprintln!("craton backend: cannot update the cache: {e}");
        }
    }

    /// Creates what a first write needs: the cloud and the two regions.
    fn ensure_places(&mut self, snapshot: &Snapshot) -> Result<Places, BackendError> {
        let cloud_name = self.config.cloud.clone();
        let region = self.config.region.clone();
        let store = self.store_region_name();
        let api = self.api()?;
        let cloud = match snapshot.found.cloud {
            Some(id) => id,
            None => create_or_find(api, "/clouds", json!({ "name": cloud_name }), || {
                find_cloud(api, &cloud_name)
            })?,
        };
        let region_id = |known: Option<i64>, name: &str| -> Result<i64, BackendError> {
            if let Some(id) = known {
                return Ok(id);
            }
            create_or_find(
                api,
                "/regions",
                json!({ "name": name, "cloud_id": cloud }),
                || Ok(regions_of(api, cloud)?.get(name).copied()),
            )
        };
        Ok(Places {
            cloud,
            fleet_region: region_id(snapshot.found.fleet_region, &region)?,
            store_region: region_id(snapshot.found.store_region, &store)?,
        })
    }

    /// Stores `text` as revision `revision`: one request creating its cell.
    fn commit(
        &mut self,
        places: Places,
        revision: u64,
        previous: Option<&str>,
        text: &str,
    ) -> Result<RevisionCell, BackendError> {
        let summary = inventory_summary::summarize(previous, text);
        let body = json!({
            "name": revision_name(revision),
            "cloud_id": places.cloud,
            "region_id": places.store_region,
            "note": summary,
            "variables": { INVENTORY_KEY: encode_blob(text) },
        });
        match self.api()?.post("/cells", &body) {
            Ok(answer) => {
                let id = answer["id"]
                    .as_i64()
                    .ok_or_else(|| bad_answer("POST", "/cells", "no id for the new cell"))?;
                Ok(RevisionCell {
                    revision,
                    id,
                    created_at: answer["created_at"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                })
            }
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => {
                let now = self.list_store(places.store_region)?.latest_revision();
                if now >= revision {
                    self.cache.clear();
                    Err(BackendError::new(format_args!(
                        "the inventory in Craton changed since this run loaded it \
                         (revision {}, now {now}); nothing was written",
                        revision - 1
                    )))
                } else {
                    Err(fault(e))
                }
            }
            Err(e) => Err(fault(e)),
        }
    }

    /// Removes the text of the revision that is no longer among the newest kept.
    fn retire(&mut self, cells: &StoreCells, revision: u64) -> Result<(), BackendError> {
        let Some(old) = revision.checked_sub(KEEP_REVISIONS) else {
            return Ok(());
        };
        let Some(cell) = cells.revisions.iter().find(|c| c.revision == old) else {
            return Ok(());
        };
        let path = format!("/cells/{}/variables", cell.id);
        self.api()?
            .delete(&path, Some(&json!([INVENTORY_KEY])))
            .map_err(fault)?;
        Ok(())
    }

    /// Creates the state cell, the first time.
    fn create_state(&mut self, places: Places) -> Result<StateCell, BackendError> {
        let body = json!({
            "name": STATE_CELL,
            "cloud_id": places.cloud,
            "region_id": places.store_region,
            "note": "fleet not synced yet",
            "variables": { HOSTS_KEY: {} },
        });
        let api = self.api()?;
        match api.post("/cells", &body) {
            Ok(answer) => Ok(StateCell {
                id: answer["id"]
                    .as_i64()
                    .ok_or_else(|| bad_answer("POST", "/cells", "no id for the new cell"))?,
                synced: None,
            }),
            // Another run created it meanwhile.
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => {
                let cells = self.list_store(places.store_region)?;
                cells.state.ok_or_else(|| fault(e))
            }
            Err(e) => Err(fault(e)),
        }
    }

    /// Brings the hosts of the fleet region in line with `wanted`, revision `revision`.
    fn sync_fleet(
        &mut self,
        places: Places,
        snapshot: &Snapshot,
        revision: u64,
        wanted: &Fleet,
    ) -> Result<(), BackendError> {
        let state = match snapshot.cells.state {
            Some(state) => state,
            None => self.create_state(places)?,
        };
        let loaded = snapshot.cells.latest_revision();
        let incremental = match (&snapshot.text, state.synced) {
            (Some(text), Some(synced)) if synced == loaded => {
                let ids = self.read_host_ids(state.id)?;
                let current = fleet::from_inventory(text).map_err(BackendError::new)?;
                // Every host it should have must have an id; else trust nothing.
                current
                    .keys()
                    .all(|name| ids.contains_key(name))
                    .then_some((current, ids))
            }
            _ => None,
        };
        if let Some((current, mut ids)) = incremental {
            let plan = fleet::plan(&current, wanted);
            if plan.is_empty() && state.synced == Some(revision) {
                return Ok(());
            }
            let before = ids.clone();
            let Err(first) = self.apply(places, &plan, wanted, &mut ids) else {
                return self.record_sync(state, revision, &ids, ids != before);
            };
            // Most likely the hosts were changed in Craton since the last write (a host
            // added or deleted there): read them all and correct what differs. When that
            // fails too (Craton is down), the first error is the one to report.
            let ids = self
                .correct_every_host(places, wanted)
                .map_err(|_| first.clone())?;
            eprintln!(
                "craton backend: the hosts in Craton were not as the last write left them \
                 ({}); corrected them all",
                first.message()
            );
            return self.record_sync(state, revision, &ids, true);
        } else if loaded > 0 {
            eprintln!(
                "craton backend: the hosts in Craton are not known to match revision {loaded} \
                 (an earlier write was interrupted, or they were never written); \
                 reading every host to correct them"
            );
        }
        let ids = self.correct_every_host(places, wanted)?;
        self.record_sync(state, revision, &ids, true)
    }

    /// Reads every host of the fleet region and corrects what differs from `wanted`;
    /// returns the host ids.
    fn correct_every_host(
        &mut self,
        places: Places,
        wanted: &Fleet,
    ) -> Result<BTreeMap<String, i64>, BackendError> {
        let (current, mut ids) = self.read_fleet(places.fleet_region)?;
        let plan = fleet::plan(&current, wanted);
        self.apply(places, &plan, wanted, &mut ids)?;
        Ok(ids)
    }

    fn read_host_ids(&mut self, state_cell: i64) -> Result<BTreeMap<String, i64>, BackendError> {
        let path = format!("/cells/{state_cell}/variables");
        let answer = self.api()?.get(&path).map_err(fault)?;
        let Some(hosts) = answer["variables"][HOSTS_KEY].as_object() else {
            return Ok(BTreeMap::new());
        };
        Ok(hosts
            .iter()
            .filter_map(|(name, id)| Some((name.clone(), id.as_i64()?)))
            .collect())
    }

    /// Every host of the region as Craton has it (labels take one request per host).
    fn read_fleet(&mut self, region: i64) -> Result<(Fleet, BTreeMap<String, i64>), BackendError> {
        let api = self.api()?;
        let hosts = list_all(
            api,
            &format!("/hosts?region_id={region}&details=true&resolved-values=false"),
            "hosts",
        )?;
        let names: BTreeMap<i64, String> = hosts
            .iter()
            .filter_map(|h| Some((h["id"].as_i64()?, h["name"].as_str()?.to_string())))
            .collect();
        let mut progress = Progress::new("reading hosts from Craton", hosts.len());
        let mut fleet = Fleet::new();
        let mut ids = BTreeMap::new();
        for host in &hosts {
            let (Some(id), Some(name)) = (host["id"].as_i64(), host["name"].as_str()) else {
                return Err(bad_answer("GET", "/hosts", "a host without id or name"));
            };
            let labels_path = format!("/hosts/{id}/labels");
            let labels = api.get(&labels_path).map_err(fault)?;
            let labels = labels["labels"]
                .as_array()
                .ok_or_else(|| bad_answer("GET", &labels_path, "no \"labels\" list"))?
                .iter()
                .filter_map(|l| l.as_str().map(str::to_string))
                .collect();
            let parent = host["parent_id"].as_i64().map(|p| {
                names
                    .get(&p)
                    .cloned()
                    // A parent outside the region can be nobody the inventory names.
                    .unwrap_or_else(|| format!("#{p}"))
            });
            fleet.insert(
                name.to_string(),
                fleet::Host {
                    device_type: host["device_type"].as_str().unwrap_or_default().to_string(),
                    parent,
                    ip_address: host["ip_address"].as_str().unwrap_or_default().to_string(),
                    labels,
                    variables: host["variables"].as_object().cloned().unwrap_or_default(),
                },
            );
            ids.insert(name.to_string(), id);
            progress.step();
        }
        progress.finish();
        Ok((fleet, ids))
    }

    /// Sends the requests of `plan`; `ids` follows the hosts created and deleted.
    fn apply(
        &mut self,
        places: Places,
        plan: &fleet::Plan,
        wanted: &Fleet,
        ids: &mut BTreeMap<String, i64>,
    ) -> Result<(), BackendError> {
        let api = self.api()?;
        let total = plan.create.len() + plan.update.len() + plan.delete.len();
        let mut progress = Progress::new("updating hosts in Craton", total);
        let id_of = |ids: &BTreeMap<String, i64>, name: &str| {
            ids.get(name).copied().ok_or_else(|| {
                BackendError::new(format_args!("no Craton host id known for host {name:?}"))
            })
        };
        for name in &plan.create {
            let host = &wanted[name];
            let mut body = json!({
                "name": name,
                "cloud_id": places.cloud,
                "region_id": places.fleet_region,
                "ip_address": host.ip_address,
                "device_type": host.device_type,
                "labels": host.labels,
                "variables": host.variables,
            });
            if let Some(parent) = &host.parent {
                body["parent_id"] = json!(id_of(ids, parent)?);
            }
            let answer = api.post("/hosts", &body).map_err(fault)?;
            let id = answer["id"]
                .as_i64()
                .ok_or_else(|| bad_answer("POST", "/hosts", "no id for the new host"))?;
            ids.insert(name.clone(), id);
            progress.step();
        }
        for (name, update) in &plan.update {
            let id = id_of(ids, name)?;
            let host_path = format!("/hosts/{id}");
            if !update.fields.is_empty() || update.parent.is_some() {
                let mut body = Value::Object(update.fields.clone());
                if let Some(parent) = &update.parent {
                    body["parent_id"] = match parent {
                        Some(parent) => json!(id_of(ids, parent)?),
                        None => Value::Null,
                    };
                }
                api.put(&host_path, &body).map_err(fault)?;
            }
            let labels_path = format!("{host_path}/labels");
            if !update.add_labels.is_empty() {
                api.put(&labels_path, &json!({ "labels": update.add_labels }))
                    .map_err(fault)?;
            }
            if !update.remove_labels.is_empty() {
                api.delete(
                    &labels_path,
                    Some(&json!({ "labels": update.remove_labels })),
                )
                .map_err(fault)?;
            }
            let variables_path = format!("{host_path}/variables");
            if !update.set_variables.is_empty() {
                api.put(
                    &variables_path,
                    &Value::Object(update.set_variables.clone()),
                )
                .map_err(fault)?;
            }
            if !update.remove_variables.is_empty() {
                api.delete(&variables_path, Some(&json!(update.remove_variables)))
                    .map_err(fault)?;
            }
            progress.step();
        }
        for name in &plan.delete {
            let id = id_of(ids, name)?;
            api.delete(&format!("/hosts/{id}"), None).map_err(fault)?;
            ids.remove(name);
            progress.step();
        }
        progress.finish();
        Ok(())
    }

    /// Records that the fleet matches `revision` (and the host ids, when they changed).
    fn record_sync(
        &mut self,
        state: StateCell,
        revision: u64,
        ids: &BTreeMap<String, i64>,
        ids_changed: bool,
    ) -> Result<(), BackendError> {
        let api = self.api()?;
        let cell = format!("/cells/{}", state.id);
        if ids_changed {
            let hosts: Map<String, Value> =
                ids.iter().map(|(n, id)| (n.clone(), json!(id))).collect();
            api.put(&format!("{cell}/variables"), &json!({ HOSTS_KEY: hosts }))
                .map_err(fault)?;
        }
        if state.synced != Some(revision) {
            api.put(
                &cell,
                &json!({ "note": format!("{STATE_NOTE_PREFIX}{revision}") }),
            )
            .map_err(fault)?;
        }
        Ok(())
    }

    /// Before the first write: the backend manages every host of its region, so a region
    /// that already holds other hosts (made by someone else) is refused, not emptied.
    fn refuse_foreign_hosts(
        &mut self,
        snapshot: &Snapshot,
        wanted: &Fleet,
    ) -> Result<(), BackendError> {
        let Some(region) = snapshot.found.fleet_region else {
            return Ok(());
        };
        let hosts = list_all(self.api()?, &format!("/hosts?region_id={region}"), "hosts")?;
        let foreign: Vec<&str> = hosts
            .iter()
            .filter_map(|h| h["name"].as_str())
            .filter(|name| !wanted.contains_key(*name))
            .collect();
        if foreign.is_empty() {
            return Ok(());
        }
        let shown: Vec<&str> = foreign.iter().take(3).copied().collect();
        Err(BackendError::new(format_args!(
            "region '{}' of cloud '{}' in Craton already holds {} host(s) that are not in this \
             inventory ({}{}); the Craton backend manages every host of its region and would \
             delete them: set 'region' (or 'cloud') to one of its own, or remove them; \
             nothing was written",
            self.config.region,
            self.config.cloud,
            foreign.len(),
            shown.join(", "),
            if foreign.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        )))
    }

    fn load_locked(&mut self, mode: LockMode) -> Result<Option<String>, BackendError> {
        self.snapshot = None;
        // A lock taken by an earlier call is released first: a second handle would wait
        // for ourselves.
        self.lock = None;
        self.exclusive = false;
        self.lock = self
            .cache
            .lock(mode, self.config.lock_timeout)
            .map_err(BackendError::new)?;
        self.exclusive = mode == LockMode::Exclusive;
        let snapshot = self.survey()?;
        let text = snapshot.text.clone();
        self.snapshot = Some(snapshot);
        Ok(text)
    }

    fn write_loaded(&mut self, snapshot: Snapshot, text: &str) -> Result<(), BackendError> {
        // Checked before anything is sent: what cannot become a fleet is not stored.
        let wanted = fleet::from_inventory(text)
            .map_err(|e| BackendError::new(format_args!("cannot store this inventory: {e}")))?;
        let loaded = snapshot.cells.latest_revision();
        if loaded == 0 {
            self.refuse_foreign_hosts(&snapshot, &wanted)?;
        }
        let places = self.ensure_places(&snapshot)?;
        let revision = if snapshot.text.as_deref() == Some(text) {
            loaded
        } else {
            let revision = loaded + 1;
            let cell = self.commit(places, revision, snapshot.text.as_deref(), text)?;
            self.remember(places, cell, text);
            self.retire(&snapshot.cells, revision)
                .map_err(|e| stored_but(revision, e))?;
            revision
        };
        self.sync_fleet(places, &snapshot, revision, &wanted)
            .map_err(|e| stored_but(revision, e))
    }
}

impl StorageBackend for CratonBackend {
    fn register(&mut self, settings: &Settings) -> Result<(), BackendError> {
        // The section was checked whole when osa.ini was read (`CratonConfig`).
        match settings.keys().next() {
            None => Ok(()),
            Some(key) => Err(BackendError::new(format_args!(
                "unexpected setting '{key}' (settings are read from osa.ini)"
            ))),
        }
    }

    fn load(&mut self) -> Result<Option<String>, BackendError> {
        self.load_locked(LockMode::Exclusive)
    }

    fn load_for_reading(&mut self) -> Result<Option<String>, BackendError> {
        self.load_locked(LockMode::Shared)
    }

    fn write(&mut self, inventory: &str) -> Result<(), BackendError> {
        let snapshot = match self.snapshot.take() {
            Some(snapshot) if self.exclusive => snapshot,
            _ => {
                self.load()?;
                self.snapshot.take().expect("load sets it")
            }
        };
        let result = self.write_loaded(snapshot, inventory);
        // The cycle is over whether or not it worked; a later `write` loads again.
        self.lock = None;
        self.exclusive = false;
        result
    }

    fn location(&self) -> String {
        format!(
            "cloud '{}', region '{}' of project {} in Craton at {}",
            self.config.cloud, self.config.region, self.config.project, self.config.url
        )
    }

    fn earlier_versions(&self) -> Option<String> {
        Some(format!(
            "earlier revisions are the cells revision-N of region '{STORE_REGION_PREFIX}{}' in \
             Craton, the newest 15 with their text (docs/craton.md)",
            self.config.region
        ))
    }

    fn needs_write(&self) -> bool {
        self.snapshot.as_ref().is_some_and(|s| {
            s.cells.latest().is_some()
                && s.cells.state.and_then(|st| st.synced) != Some(s.cells.latest_revision())
        })
    }
}

fn stored_but(revision: u64, e: BackendError) -> BackendError {
    BackendError::new(format_args!(
        "the inventory is stored as revision {revision}, but updating Craton after it failed: \
         {}; the next run corrects it",
        e.message()
    ))
}

fn fault(e: ApiError) -> BackendError {
    BackendError::new(e)
}

fn bad_answer(method: &str, path: &str, detail: &str) -> BackendError {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    BackendError::new(ApiError::bad_answer(&method, path, detail))
}

fn revision_name(revision: u64) -> String {
    format!(
        "{REVISION_PREFIX}{revision:0width$}",
        width = REVISION_DIGITS
    )
}

fn parse_revision_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(REVISION_PREFIX)?;
    if digits.len() != REVISION_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The cloud named `name`: `GET /clouds?name=` answers `404` when there is none.
fn find_cloud(api: &Api, name: &str) -> Result<Option<i64>, BackendError> {
    let path = format!("/clouds?name={}", query_value(name));
    match api.get(&path) {
        Ok(answer) => answer["clouds"][0]["id"]
            .as_i64()
            .map(Some)
            .ok_or_else(|| bad_answer("GET", &path, "no cloud id")),
        // Craton's "no such object" is a bare "Not Found"; an unknown route (a wrong
        // URL) says more, and is a fault.
        Err(e)
            if e.status() == Some(StatusCode::NOT_FOUND)
                && e.craton_message() == Some("Not Found") =>
        {
            Ok(None)
        }
        Err(e) => Err(fault(e)),
    }
}

/// The regions of a cloud by name. (`GET /regions?name=` looks a name up across all
/// clouds, and fails when two have it: list the cloud's regions and match instead.)
fn regions_of(api: &Api, cloud: i64) -> Result<BTreeMap<String, i64>, BackendError> {
    let regions = list_all(api, &format!("/regions?cloud_id={cloud}"), "regions")?;
    Ok(regions
        .iter()
        .filter_map(|r| Some((r["name"].as_str()?.to_string(), r["id"].as_i64()?)))
        .collect())
}

/// Creates an object; when Craton says it exists already (another run was quicker),
/// finds it instead.
fn create_or_find(
    api: &Api,
    path: &str,
    body: Value,
    find: impl Fn() -> Result<Option<i64>, BackendError>,
) -> Result<i64, BackendError> {
    match api.post(path, &body) {
        Ok(answer) => answer["id"]
            .as_i64()
            .ok_or_else(|| bad_answer("POST", path, "no id for the new object")),
        Err(e) if e.status() == Some(StatusCode::CONFLICT) => find()?.ok_or_else(|| fault(e)),
        Err(e) => Err(fault(e)),
    }
}

/// Every item of a paged listing (`path` has a query; `key` names the list).
fn list_all(api: &Api, path: &str, key: &str) -> Result<Vec<Value>, BackendError> {
    let mut items = Vec::new();
    let mut marker: Option<i64> = None;
    loop {
        let page_path = match marker {
            Some(m) => format!("{path}&limit={HOST_PAGE}&marker={m}"),
            None => format!("{path}&limit={HOST_PAGE}"),
        };
        let answer = api.get(&page_path).map_err(fault)?;
        let Some(page) = answer[key].as_array() else {
            return Err(bad_answer("GET", &page_path, &format!("no \"{key}\" list")));
        };
        let full = page.len() >= HOST_PAGE;
        let last = page.last().and_then(|item| item["id"].as_i64());
        items.extend(page.iter().cloned());
        match last {
            Some(id) if full && marker != Some(id) => marker = Some(id),
            _ => return Ok(items),
        }
    }
}

/// `text` as a query value.
fn query_value(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The stored form of an inventory text: compressed (Craton would re-sort a JSON
/// object's keys, and the text is several megabytes), with what checks it.
fn encode_blob(text: &str) -> Value {
    let mut encoder = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(text.len() / 8),
        flate2::Compression::default(),
    );
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(text.as_bytes());
    let compressed = encoder.finish().unwrap_or_default();
    json!({
        "format": BLOB_FORMAT,
        "size": text.len(),
        "sha256": digest(text.as_bytes()),
        "time": humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        "data": base64::engine::general_purpose::STANDARD.encode(compressed),
    })
}

/// The text of a stored blob, checked against its size and digest.
fn decode_blob(blob: &Value) -> Result<String, String> {
    if blob.is_null() {
        return Err(format!("it has no '{INVENTORY_KEY}' variable"));
    }
    if blob["format"].as_str() != Some(BLOB_FORMAT) {
        return Err(format!("its format is not {BLOB_FORMAT}"));
    }
    let size = blob["size"]
        .as_u64()
        .filter(|s| *s <= MAX_TEXT)
        .ok_or("no valid size")?;
    let data = blob["data"].as_str().ok_or("no data")?;
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| format!("its data is not base64: {e}"))?;
    let mut text = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .take(size + 1)
        .read_to_end(&mut text)
        .map_err(|e| format!("its data does not decompress: {e}"))?;
    if text.len() as u64 != size {
        return Err(format!(
            "it holds {} bytes, not the {size} recorded",
            text.len()
        ));
    }
    if blob["sha256"].as_str() != Some(digest(&text).as_str()) {
        return Err("its text does not match its SHA-256".into());
    }
    String::from_utf8(text).map_err(|_| "its text is not UTF-8".into())
}

/// "done / total" on standard error while a long series of requests runs, when that is
/// a terminal.
struct Progress {
    what: &'static str,
    total: usize,
    done: usize,
    shown_at: Option<Instant>,
    enabled: bool,
}

impl Progress {
    /// Fewer steps than this finish too soon to need it.
    const MIN_STEPS: usize = 20;

    fn new(what: &'static str, total: usize) -> Progress {
        Progress {
            what,
            total,
            done: 0,
            shown_at: None,
            enabled: total >= Self::MIN_STEPS && std::io::stderr().is_terminal(),
        }
    }

    fn step(&mut self) {
        self.done += 1;
        if !self.enabled {
            return;
        }
        let due = self
            .shown_at
            .is_none_or(|at| at.elapsed().as_millis() >= 100);
        if due || self.done == self.total {
            eprint!(
                "\rcraton backend: {}: {}/{} hosts",
                self.what, self.done, self.total
            );
            self.shown_at = Some(Instant::now());
        }
    }

    fn finish(&mut self) {
        if self.enabled && self.shown_at.is_some() {
            eprintln!();
        }
        self.enabled = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_names_sort_as_numbers() {
        assert_eq!(revision_name(12), "revision-0000000012");
        assert_eq!(parse_revision_name("revision-0000000012"), Some(12));
        assert_eq!(parse_revision_name("revision-12"), None);
        assert_eq!(parse_revision_name("revision-00000000x2"), None);
        assert_eq!(parse_revision_name(STATE_CELL), None);
        assert!(revision_name(9) < revision_name(10));
        // The state cell comes first in a descending listing.
        assert!(STATE_CELL > revision_name(u64::MAX / 10).as_str());
    }

    #[test]
    fn blobs_round_trip_and_are_checked() {
        let text = "{\n    \"all\": {\"hosts\": [\"a\"]},\n    \"n\": 1.0e400\n}\n";
        let blob = encode_blob(text);
        assert_eq!(blob["size"], text.len());
        assert_eq!(decode_blob(&blob).unwrap(), text);

        let mut wrong = blob.clone();
        wrong["sha256"] = json!(digest(b"other"));
        assert!(decode_blob(&wrong).unwrap_err().contains("SHA-256"));
        let mut short = blob.clone();
        short["size"] = json!(3);
        assert!(
            decode_blob(&short)
                .unwrap_err()
                .contains("not the 3 recorded")
        );
        let mut garbage = blob.clone();
        garbage["data"] = json!("!!!");
        assert!(decode_blob(&garbage).unwrap_err().contains("base64"));
        assert!(
            decode_blob(&Value::Null)
                .unwrap_err()
                .contains("no 'inventory'")
        );
    }

    #[test]
    fn digests_are_hex_sha256() {
        assert_eq!(
            digest(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(query_value("a b&c"), "a+b%26c");
    }
}
