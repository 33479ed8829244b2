//! The read-only actions: `-l` (with `-s`), `-g`, `-G`, `-e`, and `dump`. Small cases are
//! compared with what upstream's tool printed for them; the reference inventory with
//! tables built here from its data, as upstream builds them.

use serde_json::{Map, Value};

use crate::support::*;

/// An inventory with every kind of cell: missing variables, booleans, numbers, lists,
/// objects, quotes, a tab, non-ASCII text, a physical host alone in a group, a container
/// alone in a group, an empty group.
const SYNTHETIC: &str = r#"{
    "_meta": {
        "hostvars": {
            "zeta_c1": {"component": "svc", "physical_host": "host1", "is_metal": false, "ansible_host": "10.0.0.5", "container_types": ["a", "it's"], "tunnel_address": 7},
            "host1": {"physical_host": "host1", "is_metal": true, "container_types": "host1_host_containers", "ansible_host": "10.0.0.1", "tunnel_address": 2.5},
            "alpha_c2": {"physical_host": "host1", "component": "svc", "container_name": "alpha\tc2", "ansible_host": "10.0.0.2", "container_types": {"k": null}, "tunnel_address": 1},
            "\u00fcn\u00ef_c3": {"physical_host": "host1", "component": "\u03c9mega", "ansible_host": "10.0.0.3", "tunnel_address": true, "container_types": "x"},
            "beta_c4": {"physical_host": "host1", "component": "db", "ansible_host": "10.0.0.4", "tunnel_address": 1e-05, "container_types": null}
        }
    },
    "all": {"vars": {"v": 1.0, "list": [], "obj": {}, "text": "caf\u00e9"}},
    "g_empty": {"hosts": []},
    "g_one_host": {"hosts": ["host1"]},
    "g_one_c": {"hosts": ["zeta_c1"]},
    "g_many": {"children": [], "hosts": ["zeta_c1", "host1", "\u00fcn\u00ef_c3"]},
    "db": {"hosts": ["beta_c4"]}
}
"#;

/// `inventory-manage.py -l` on [`SYNTHETIC`], as upstream printed it.
const LIST: &str = r#"+----------------+----------+-------------+---------------+----------------+--------------+-----------------------+
| container_name | is_metal | component   | physical_host | tunnel_address | ansible_host | container_types       |
+----------------+----------+-------------+---------------+----------------+--------------+-----------------------+
| host1          | True     | -undefined- | host1         | 2.5            | 10.0.0.1     | host1_host_containers |
| beta_c4        | None     | db          | host1         | 1e-05          | 10.0.0.4     | None                  |
| alpha   c2     | None     | svc         | host1         | 1              | 10.0.0.2     | {'k': None}           |
| zeta_c1        | False    | svc         | host1         | 7              | 10.0.0.5     | ['a', "it's"]         |
| ünï_c3         | None     | ωmega       | host1         | True           | 10.0.0.3     | x                     |
+----------------+----------+-------------+---------------+----------------+--------------+-----------------------+
"#;

/// `inventory-manage.py -l -s tunnel_address` on [`SYNTHETIC`], as upstream printed it.
const LIST_BY_TUNNEL: &str = r#"+----------------+----------+-------------+---------------+----------------+--------------+-----------------------+
| container_name | is_metal | component   | physical_host | tunnel_address | ansible_host | container_types       |
+----------------+----------+-------------+---------------+----------------+--------------+-----------------------+
| beta_c4        | None     | db          | host1         | 1e-05          | 10.0.0.4     | None                  |
| alpha   c2     | None     | svc         | host1         | 1              | 10.0.0.2     | {'k': None}           |
| ünï_c3         | None     | ωmega       | host1         | True           | 10.0.0.3     | x                     |
| host1          | True     | -undefined- | host1         | 2.5            | 10.0.0.1     | host1_host_containers |
| zeta_c1        | False    | svc         | host1         | 7              | 10.0.0.5     | ['a', "it's"]         |
+----------------+----------+-------------+---------------+----------------+--------------+-----------------------+
"#;

/// `inventory-manage.py -l -s container_name` on [`SYNTHETIC`], as upstream printed it.
const LIST_BY_NAME: &str = r#"+----------------+----------+-------------+---------------+----------------+--------------+-----------------------+
| container_name | is_metal | component   | physical_host | tunnel_address | ansible_host | container_types       |
+----------------+----------+-------------+---------------+----------------+--------------+-----------------------+
| alpha   c2     | None     | svc         | host1         | 1              | 10.0.0.2     | {'k': None}           |
| beta_c4        | None     | db          | host1         | 1e-05          | 10.0.0.4     | None                  |
| host1          | True     | -undefined- | host1         | 2.5            | 10.0.0.1     | host1_host_containers |
| zeta_c1        | False    | svc         | host1         | 7              | 10.0.0.5     | ['a', "it's"]         |
| ünï_c3         | None     | ωmega       | host1         | True           | 10.0.0.3     | x                     |
+----------------+----------+-------------+---------------+----------------+--------------+-----------------------+
"#;

/// `inventory-manage.py -g` on [`SYNTHETIC`], as upstream printed it.
const GROUPS: &str = r#"+----------------+-----------------+
| container_name | groups          |
+----------------+-----------------+
| zeta_c1        | g_many, g_one_c |
| alpha_c2       |                 |
| ünï_c3         | g_many          |
| beta_c4        | db              |
+----------------+-----------------+
"#;

/// `inventory-manage.py -G` on [`SYNTHETIC`], as upstream printed it.
const CONTAINERS: &str = r#"+---------+----------------+
| groups  | container_name |
+---------+----------------+
| g_one_c | zeta_c1        |
| g_many  | zeta_c1        |
|         | host1          |
|         | ünï_c3         |
| db      | beta_c4        |
+---------+----------------+
"#;

/// `inventory-manage.py -e` on [`SYNTHETIC`], as upstream printed it.
const EXPORT: &str = r#"{
  "hosts": {
    "zeta_c1": {
      "hostvars": {
        "component": "svc",
        "physical_host": "host1",
        "is_metal": false,
        "ansible_host": "10.0.0.5",
        "container_types": [
          "a",
          "it's"
        ],
        "tunnel_address": 7
      },
      "groups": [
        "g_one_c",
        "g_many"
      ]
    },
    "host1": {
      "hostvars": {
        "physical_host": "host1",
        "is_metal": true,
        "container_types": "host1_host_containers",
        "ansible_host": "10.0.0.1",
        "tunnel_address": 2.5
      },
      "groups": [
        "g_one_host",
        "g_many"
      ]
    },
    "alpha_c2": {
      "hostvars": {
        "physical_host": "host1",
        "component": "svc",
        "container_name": "alpha\tc2",
        "ansible_host": "10.0.0.2",
        "container_types": {
          "k": null
        },
        "tunnel_address": 1
      }
    },
    "\u00fcn\u00ef_c3": {
      "hostvars": {
        "physical_host": "host1",
        "component": "\u03c9mega",
        "ansible_host": "10.0.0.3",
        "tunnel_address": true,
        "container_types": "x"
      },
      "groups": [
        "g_many"
      ]
    },
    "beta_c4": {
      "hostvars": {
        "physical_host": "host1",
        "component": "db",
        "ansible_host": "10.0.0.4",
        "tunnel_address": 1e-05,
        "container_types": null
      },
      "groups": [
        "db"
      ]
    }
  },
  "all": {
    "v": 1.0,
    "list": [],
    "obj": {},
    "text": "caf\u00e9"
  }
}
"#;

#[test]
fn synthetic_tables_and_export_are_upstreams() {
    let site = Site::with_inventory(SYNTHETIC);
    for (args, want) in [
        (&["-l"][..], LIST),
        (&["--list-host", "--sort", "tunnel_address"], LIST_BY_TUNNEL),
        (&["-l", "-s", "container_name"], LIST_BY_NAME),
        (&["-g"], GROUPS),
        (&["--list-groups"], GROUPS),
        (&["-G"], CONTAINERS),
        (&["--list-containers"], CONTAINERS),
        (&["-e"], EXPORT),
        (&["--export"], EXPORT),
    ] {
        assert_eq!(site.ok(args), want, "{args:?}");
    }
    // Reading changes nothing and backs nothing up.
    assert_eq!(site.inventory_text().as_deref(), Some(SYNTHETIC));
    assert!(site.backups().is_empty());
}

#[test]
fn export_leaves_out_groups_without_hosts() {
    // Upstream stops with KeyError: 'hosts' on such a group.
    let text = SYNTHETIC.replacen(
        "\"db\": {",
        "\"parent\": {\"children\": [\"db\"]},\n    \"db\": {",
        1,
    );
    let site = Site::with_inventory(&text);
    assert_eq!(site.ok(&["-e"]), EXPORT);
}

#[test]
fn export_skips_hosts_without_variables_and_a_missing_all() {
    // Upstream: KeyError on each.
    let site = Site::with_inventory(
        r#"{"_meta": {"hostvars": {"a_1": {"x": 1}}}, "g": {"hosts": ["ghost", "a_1"]}}"#,
    );
    assert_eq!(
        site.ok(&["-e"]),
        "{\n  \"hosts\": {\n    \"a_1\": {\n      \"hostvars\": {\n        \"x\": 1\n      },\n      \
         \"groups\": [\n        \"g\"\n      ]\n    }\n  },\n  \"all\": {}\n}\n"
    );
}

#[test]
fn empty_inventory_prints_empty_tables() {
    let site = Site::with_inventory(r#"{"_meta": {"hostvars": {}}, "all": {"vars": {}}}"#);
    assert_eq!(
        site.ok(&["-g"]),
        "+----------------+--------+\n| container_name | groups |\n+----------------+--------+\n+----------------+--------+\n"
    );
    assert_eq!(
        site.ok(&["-G"]),
        prettytable(&["groups", "container_name"], &[])
    );
    assert_eq!(site.ok(&["-e"]), "{\n  \"hosts\": {},\n  \"all\": {}\n}\n");
}

const HOST_COLUMNS: [&str; 7] = [
    "container_name",
    "is_metal",
    "component",
    "physical_host",
    "tunnel_address",
    "ansible_host",
    "container_types",
];

/// `str()` of the values the reference inventory has in these columns.
fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        other => panic!("unexpected value in a column: {other}"),
    }
}

/// The rows of `-l` for `inventory`, in stored order, as strings.
fn host_rows(inventory: &Map<String, Value>) -> Vec<Vec<String>> {
    hostvars(inventory)
        .iter()
        .map(|(host, vars)| {
            HOST_COLUMNS
                .iter()
                .map(|c| match (vars.get(*c), *c) {
                    (None | Some(Value::Null), "component") => "-undefined-".to_string(),
                    (None | Some(Value::Null), "container_name") => host.clone(),
                    (v, _) => py_str(v.unwrap_or(&Value::Null)),
                })
                .collect()
        })
        .collect()
}

#[test]
fn prod_host_list_is_sorted_on_the_column_asked_for() {
    let site = Site::prod();
    let inventory = site.inventory();
    assert_eq!(hostvars(&inventory).len(), 62);
    for (column, args) in [
        (2, &["-l"][..]),
        (3, &["-l", "-s", "physical_host"]),
        (0, &["-l", "--sort=container_name"]),
        (5, &["-s", "ansible_host", "-l"]),
    ] {
        let mut rows = host_rows(&inventory);
        // On ties, the row from its first column (container names are unique).
        rows.sort_by(|a, b| a[column].cmp(&b[column]).then_with(|| a.cmp(b)));
        let out = site.ok(args);
        assert_eq!(out, prettytable(&HOST_COLUMNS, &rows), "{args:?}");
        assert_eq!(out.lines().count(), 62 + 4);
    }
}

#[test]
fn prod_sorts_where_upstream_stops_on_a_type_error() {
    // is_metal is True for hosts and missing (None) for containers: upstream's sort
    // raises TypeError; ours puts None first.
    let site = Site::prod();
    let out = site.ok(&["-l", "-s", "is_metal"]);
    let metal: Vec<&str> = out
        .lines()
        .skip(3)
        .filter(|l| l.starts_with("| "))
        .map(|l| l.split('|').nth(2).unwrap().trim())
        .collect();
    assert_eq!(metal.len(), 62);
    let first_true = metal.iter().position(|m| *m == "True").unwrap();
    assert!(metal[..first_true].iter().all(|m| *m == "None"));
    assert!(metal[first_true..].iter().all(|m| *m == "True"));
    assert_eq!(metal.iter().filter(|m| **m == "True").count(), 8);
}

/// The physical hosts of the reference inventory: their physical_host is themselves.
fn physical_hosts(inventory: &Map<String, Value>) -> Vec<String> {
    hostvars(inventory)
        .iter()
        .filter(|(h, v)| v["physical_host"].as_str() == Some(h.as_str()))
        .map(|(h, _)| h.clone())
        .collect()
}

#[test]
fn prod_groups_per_container_lists_every_container() {
    let site = Site::prod();
    let inventory = site.inventory();
    let physical = physical_hosts(&inventory);
    assert_eq!(physical.len(), 8);
    let rows: Vec<Vec<String>> = hostvars(&inventory)
        .keys()
        .filter(|h| !physical.contains(h))
        .map(|h| {
            let mut groups: Vec<&str> = inventory
                .keys()
                .filter(|g| group_hosts(&inventory, g).is_some_and(|hs| hs.contains(&h.as_str())))
                .map(String::as_str)
                .collect();
            groups.sort();
            vec![h.clone(), groups.join(", ")]
        })
        .collect();
    assert_eq!(rows.len(), 54);
    assert!(rows.iter().all(|r| !r[1].is_empty()));
    assert_eq!(
        site.ok(&["-g"]),
        prettytable(&["container_name", "groups"], &rows)
    );
}

#[test]
fn prod_containers_per_group_lists_groups_in_stored_order() {
    let site = Site::prod();
    let inventory = site.inventory();
    let physical = physical_hosts(&inventory);
    let rows: Vec<Vec<String>> = inventory
        .keys()
        .filter_map(|g| {
            let hosts = group_hosts(&inventory, g)?;
            let alone_physical = hosts.len() == 1 && physical.iter().any(|p| p == hosts[0]);
            (!hosts.is_empty() && !alone_physical).then(|| vec![g.clone(), hosts.join("\n")])
        })
        .collect();
    assert!(rows.len() > 100, "{}", rows.len());
    assert_eq!(
        site.ok(&["-G"]),
        prettytable(&["groups", "container_name"], &rows)
    );
}

#[test]
fn prod_export_pivots_variables_and_groups_per_host() {
    let site = Site::prod();
    let inventory = site.inventory();
    let out = site.ok(&["-e"]);
    assert!(out.starts_with("{\n  \"hosts\": {\n    \"compute1\": {\n      \"hostvars\": {\n"));
    let export = document(&out);
    assert_eq!(export.keys().collect::<Vec<_>>(), ["hosts", "all"]);
    assert_eq!(export["all"], inventory["all"]["vars"]);
    let hosts = export["hosts"].as_object().unwrap();
    assert_eq!(
        hosts.keys().collect::<Vec<_>>(),
        hostvars(&inventory).keys().collect::<Vec<_>>()
    );
    for (host, info) in hosts {
        assert_eq!(info["hostvars"], hostvars(&inventory)[host], "{host}");
        let groups: Vec<&str> = inventory
            .keys()
            .filter(|g| *g != "all")
            .filter(|g| group_hosts(&inventory, g).is_some_and(|hs| hs.contains(&host.as_str())))
            .map(String::as_str)
            .collect();
        let listed: Vec<&str> = info["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap())
            .collect();
        assert_eq!(listed, groups, "{host}");
    }
    // json.dumps(indent=2) re-indented is the same document.
    assert_eq!(
        out,
        serde_json::to_string_pretty(&export).unwrap() + "\n",
        "not json.dumps(indent=2)"
    );
}

#[test]
fn file_option_reads_any_file_name_and_finds_relative_paths_in_the_config_dir() {
    let site = Site::empty();
    site.write("copy.json", SYNTHETIC);
    // Absolute, relative (looked up in --config), and through OSA_CONFIG_DIR.
    let absolute = site.file("copy.json");
    assert_eq!(
        site.ok(&["-f", absolute.to_str().unwrap(), "-G"]),
        CONTAINERS
    );
    assert_eq!(site.ok(&["--file", "copy.json", "-G"]), CONTAINERS);
    let elsewhere = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("inventory-manage")
        .unwrap()
        .args(["-f", "copy.json", "-e"])
        .env("OSA_CONFIG_DIR", site.path())
        .env("OSA_INI_PATH", default_osa_ini())
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert_eq!(ok(out), EXPORT);
    // The config dir's openstack_inventory.json is not what was read.
    assert!(site.inventory_text().is_none());
}

#[test]
fn default_store_is_the_json_file_in_the_config_dir() {
    let site = Site::with_inventory(SYNTHETIC);
    assert_eq!(site.ok(&["-G"]), CONTAINERS);
    let out = assert_cmd::Command::cargo_bin("inventory-manage")
        .unwrap()
        .arg("-G")
        .env("OSA_CONFIG_DIR", site.path())
        .env("OSA_INI_PATH", default_osa_ini())
        .output()
        .unwrap();
    assert_eq!(ok(out), CONTAINERS);
}

#[test]
fn dump_prints_the_stored_text_unchanged() {
    // Not in the generator's format: dump does not reformat.
    let site = Site::with_inventory(SYNTHETIC);
    assert_eq!(site.ok(&["dump"]), SYNTHETIC);
    let target = site.file("out/inventory.json");
    std::fs::create_dir(site.file("out")).unwrap();
    assert_eq!(site.ok(&["dump", "-o", target.to_str().unwrap()]), "");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), SYNTHETIC);
    // Replaced whole when it exists.
    std::fs::write(&target, "old and longer than the inventory ".repeat(100)).unwrap();
    site.ok(&["dump", "--output", target.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), SYNTHETIC);
    let prod = Site::prod();
    assert_eq!(prod.ok(&["dump"]), steady_state("prod"));
    assert_eq!(
        prod.ok(&["-f", "openstack_inventory.json", "dump"]),
        steady_state("prod")
    );
    assert!(site.backups().is_empty() && prod.backups().is_empty());
}
