//! What the read-only actions print: upstream's three tables (`-l`, `-g`, `-G`) and the
//! per-host export (`-e`). They work on the inventory as `json.loads` reads it (keys in
//! the stored order), as upstream's do.

use std::collections::BTreeSet;

use comfy_table::{ContentArrangement, Table, TableStyle};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::python;

/// The columns of `-l`, in order; `-s` names one of them.
pub const HOST_COLUMNS: [&str; 7] = [
    "container_name",
    "is_metal",
    "component",
    "physical_host",
    "tunnel_address",
    "ansible_host",
    "container_types",
];

/// prettytable's default look: `+---+` borders, a `+---+` line under the header, no
/// lines between rows.
const PRETTYTABLE: TableStyle = TableStyle::new()
    .top_border(comfy_table::LineStyle::new('+', '-', '+', '+'))
    .header_lines(comfy_table::ContentLineStyle::new('|', '|', '|'))
    .header_separator(comfy_table::LineStyle::new('+', '-', '+', '+'))
    .content_lines(comfy_table::ContentLineStyle::new('|', '|', '|'))
    .bottom_border(comfy_table::LineStyle::new('+', '-', '+', '+'));

/// A table of left-aligned text cells, printed as upstream's prettytable prints one,
/// followed by the newline `print` adds.
pub fn render(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut table = Table::new();
    table
        .load_style(PRETTYTABLE)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    for row in rows {
        table.add_row(row);
    }
    // An empty table is the header between two lines, as prettytable draws it.
    let mut text = table.to_string();
    text.push('\n');
    text
}

fn hostvars(inventory: &Map<String, Value>) -> Option<&Map<String, Value>> {
    inventory.get("_meta")?.get("hostvars")?.as_object()
}

/// The index of `-s`'s column in [`HOST_COLUMNS`].
pub fn sort_column(sort: &str) -> Result<usize> {
    HOST_COLUMNS
        .iter()
        .position(|c| *c == sort)
        .ok_or_else(|| Error::InvalidSortField {
            field: sort.to_string(),
            known: HOST_COLUMNS.join(", "),
        })
}

/// `-l`: one row per host (each of [`HOST_COLUMNS`] from its variables; a missing
/// `component` is `-undefined-`, a missing `container_name` the host's name), sorted on
/// column `sort` and then on the whole row, as prettytable's `sortby` does.
pub fn list_hosts(inventory: &Map<String, Value>, sort: &str) -> Result<String> {
    let sort_index = sort_column(sort)?;
    let mut rows: Vec<Vec<Value>> = Vec::new();
    for (host, vars) in hostvars(inventory).into_iter().flatten() {
        let row = HOST_COLUMNS
            .iter()
            .map(|column| {
                let value = vars.get(*column).cloned().unwrap_or(Value::Null);
                match (*column, value) {
                    ("component", Value::Null) => Value::String("-undefined-".into()),
                    ("container_name", Value::Null) => Value::String(host.clone()),
                    (_, value) => value,
                }
            })
            .collect();
        rows.push(row);
    }
    // A stable sort on (sort column, whole row), like Python's on the decorated rows.
    rows.sort_by(|a, b| {
        python::compare(&a[sort_index], &b[sort_index]).then_with(|| python::compare_lists(a, b))
    });
    let rows = rows
        .iter()
        .map(|row| row.iter().map(cell).collect())
        .collect();
    Ok(render(&HOST_COLUMNS, rows))
}

fn cell(value: &Value) -> String {
    python::expand_tabs(&python::str_of(value))
}

/// Whether `name` is a physical host, which the group tables leave out: its
/// `physical_host` variable names itself. A host without that variable (or without
/// variables) is judged by upstream's test: a name without `_`.
fn is_physical_host(hostvars: Option<&Map<String, Value>>, name: &str) -> bool {
    match hostvars
        .and_then(|h| h.get(name))
        .and_then(|vars| vars.get("physical_host"))
    {
        Some(Value::String(physical)) => physical == name,
        _ => !name.contains('_'),
    }
}

/// The `hosts` of a group, when the group has that list.
fn group_hosts(group: &Value) -> Option<Vec<&str>> {
    let hosts = group.as_object()?.get("hosts")?.as_array()?;
    Some(hosts.iter().filter_map(Value::as_str).collect())
}

/// `-g`: each container (every host but the physical ones), in stored order, and the
/// groups listing it among their `hosts`, sorted and joined with `, `.
pub fn groups_per_container(inventory: &Map<String, Value>) -> String {
    let hostvars = hostvars(inventory);
    let mut rows = Vec::new();
    for name in hostvars.into_iter().flat_map(Map::keys) {
        if is_physical_host(hostvars, name) {
            continue;
        }
        let groups: BTreeSet<&str> = inventory
            .iter()
            .filter(|(_, group)| group_hosts(group).is_some_and(|h| h.contains(&name.as_str())))
            .map(|(group, _)| group.as_str())
            .collect();
        rows.push(vec![
            cell(&Value::String(name.clone())),
            python::expand_tabs(&groups.into_iter().collect::<Vec<_>>().join(", ")),
        ]);
    }
    render(&["container_name", "groups"], rows)
}

/// `-G`: each group with hosts, in stored order, and its hosts one per line; a group
/// whose only host is a physical host is left out.
pub fn containers_per_group(inventory: &Map<String, Value>) -> String {
    let hostvars = hostvars(inventory);
    let mut rows = Vec::new();
    for (name, group) in inventory {
        let Some(hosts) = group_hosts(group) else {
            continue;
        };
        if hosts.is_empty() || (hosts.len() == 1 && is_physical_host(hostvars, hosts[0])) {
            continue;
        }
        rows.push(vec![
            python::expand_tabs(name),
            python::expand_tabs(&hosts.join("\n")),
        ]);
    }
    render(&["groups", "container_name"], rows)
}

/// `-e`: `{"hosts": {HOST: {"hostvars": {...}, "groups": [...]}}, "all": all.vars}` as
/// `json.dumps(indent=2)` prints it. A host's `groups` are those (but `all`) listing it,
/// in stored order; a host in no group has no `groups` key, as upstream.
pub fn export(inventory: &Map<String, Value>) -> String {
    let mut hosts = Map::new();
    for (host, vars) in hostvars(inventory).into_iter().flatten() {
        let mut info = Map::new();
        info.insert("hostvars".into(), vars.clone());
        hosts.insert(host.clone(), Value::Object(info));
    }
    for (group, value) in inventory {
        if group == "_meta" || group == "all" {
            continue;
        }
        for host in group_hosts(value).into_iter().flatten() {
            // Upstream stops with a KeyError on a host without variables; such a host
            // has nothing to export.
            let Some(Value::Object(info)) = hosts.get_mut(host) else {
                continue;
            };
            let groups = info
                .entry("groups")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(groups) = groups {
                groups.push(Value::String(group.clone()));
            }
        }
    }
    let all = inventory
        .get("all")
        .and_then(|a| a.get("vars"))
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let mut export = Map::new();
    export.insert("hosts".into(), Value::Object(hosts));
    export.insert("all".into(), all);
    python::dumps_indent2(&Value::Object(export))
}
