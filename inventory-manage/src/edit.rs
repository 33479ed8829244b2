//! What the changing actions do to the inventory (`-r`, `-d`, `--clear-ips`). Each checks
//! everything before it changes anything, so an error leaves the inventory as it was.

use inventory_model::model::Inventory;
use inventory_model::value::Truthy;

/// Why a change cannot be made: the name that is not there.
#[derive(Debug, PartialEq, Eq)]
pub enum Missing {
    Host(String),
    Group(String),
}

/// The variables `--clear-ips` removes from every host that is not `is_metal`.
pub const IP_VARIABLES: [&str; 4] = [
    "container_networks",
    "container_address",
    "ansible_host",
    "ansible_ssh_host",
];

/// `-r`: removes each host from `_meta.hostvars` and from the `hosts` of every group,
/// as upstream does. Containers that live on a removed host are not removed (upstream
/// does not either): name them too. Every name must be a host of the inventory.
pub fn remove_hosts(inventory: &mut Inventory, names: &[String]) -> Result<(), Missing> {
    for name in names {
        let known = inventory.hostvars.contains_key(name.as_str())
            || inventory
                .groups
                .values()
                .any(|g| g.hosts.as_ref().is_some_and(|h| h.contains(name.as_str())));
        if !known {
            return Err(Missing::Host(name.clone()));
        }
    }
    for name in names {
        inventory.hostvars.shift_remove(name.as_str());
        for group in inventory.groups.values_mut() {
            if let Some(hosts) = &mut group.hosts {
                hosts.shift_remove(name.as_str());
            }
        }
    }
    Ok(())
}

/// `-d`: removes each group (a top-level key other than `_meta`), and its name from the
/// `children` of the other groups, so nothing refers to it any more.
pub fn remove_groups(inventory: &mut Inventory, names: &[String]) -> Result<(), Missing> {
    if let Some(name) = names
        .iter()
        .find(|n| !inventory.groups.contains_key(n.as_str()))
    {
        return Err(Missing::Group(name.clone()));
    }
    for name in names {
        inventory.groups.shift_remove(name.as_str());
        for group in inventory.groups.values_mut() {
            if let Some(children) = &mut group.children {
                children.shift_remove(name.as_str());
            }
        }
    }
    Ok(())
}

/// `--clear-ips`: removes [`IP_VARIABLES`] from every host whose `is_metal` is not true
/// (Python's truth: missing, `false`, `null`, `0`, `""` are not).
pub fn clear_ips(inventory: &mut Inventory) {
    for vars in inventory.hostvars.values_mut() {
        if vars.get("is_metal").is_some_and(|v| v.truthy()) {
            continue;
        }
        for name in IP_VARIABLES {
            vars.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"{
        "_meta": {"hostvars": {
            "h1": {"is_metal": true, "ansible_host": "10.0.0.1", "container_address": "x"},
            "h1-c1": {"ansible_host": "10.0.0.2", "container_networks": {}, "container_address": "10.0.0.2", "ansible_ssh_host": "s", "keep": 1},
            "h1-c2": {"is_metal": "", "ansible_host": "10.0.0.3"}
        }},
        "all": {"vars": {"h1": "not a host"}},
        "g": {"children": ["h1", "sub"], "hosts": ["h1-c1", "h1", "h1-c2"]},
        "sub": {"hosts": ["h1-c1"]},
        "only_in_group": {"hosts": ["ghost"]}
    }"#;

    fn inventory() -> Inventory {
        Inventory::parse(TEXT).unwrap()
    }

    fn hosts(inv: &Inventory, group: &str) -> Vec<String> {
        inv.groups[group].hosts().map(|h| h.to_string()).collect()
    }

    #[test]
    fn removing_a_host_removes_its_variables_and_memberships_only() {
        let mut inv = inventory();
        remove_hosts(&mut inv, &["h1".into()]).unwrap();
        assert!(!inv.hostvars.contains_key("h1"));
        assert!(inv.hostvars.contains_key("h1-c1"));
        assert_eq!(hosts(&inv, "g"), ["h1-c1", "h1-c2"]);
        // A group's children and other variables are not hosts.
        let children: Vec<&str> = inv.groups["g"].children().map(|c| c.as_str()).collect();
        assert_eq!(children, ["h1", "sub"]);
        assert!(
            inv.groups["all"]
                .extra
                .get("vars")
                .unwrap()
                .as_map()
                .unwrap()
                .contains_key("h1")
        );
    }

    #[test]
    fn a_host_known_only_from_a_group_can_be_removed() {
        let mut inv = inventory();
        remove_hosts(&mut inv, &["ghost".into()]).unwrap();
        assert!(hosts(&inv, "only_in_group").is_empty());
    }

    #[test]
    fn an_unknown_host_changes_nothing() {
        let mut inv = inventory();
        let err = remove_hosts(&mut inv, &["h1-c1".into(), "nope".into()]).unwrap_err();
        assert_eq!(err, Missing::Host("nope".into()));
        assert_eq!(inv, inventory());
    }

    #[test]
    fn removing_a_group_removes_it_from_children() {
        let mut inv = inventory();
        remove_groups(&mut inv, &["sub".into()]).unwrap();
        assert!(!inv.groups.contains_key("sub"));
        let children: Vec<&str> = inv.groups["g"].children().map(|c| c.as_str()).collect();
        assert_eq!(children, ["h1"]);
        let err = remove_groups(&mut inv, &["g".into(), "_meta".into()]).unwrap_err();
        assert_eq!(err, Missing::Group("_meta".into()));
        assert!(inv.groups.contains_key("g"));
    }

    #[test]
    fn clear_ips_spares_metal_hosts() {
        let mut inv = inventory();
        clear_ips(&mut inv);
        let h1 = &inv.hostvars["h1"];
        assert!(h1.contains_key("ansible_host") && h1.contains_key("container_address"));
        let c1 = &inv.hostvars["h1-c1"];
        assert_eq!(c1.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["keep"]);
        assert!(!inv.hostvars["h1-c2"].contains_key("ansible_host"));
    }
}
