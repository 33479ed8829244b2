//! Synthetic deployments of any size, for the scale tests and the benchmark: three
//! infrastructure hosts with the usual control-plane containers, then compute hosts (3 in
//! 4) and storage hosts (1 in 4, each with `container_vars` limited to cinder-volume).

use std::fmt::Write;

/// The address of host number `i` (0-based) in 10.0.0.0/16, above the reserved 10.0.0.0/24.
fn host_ip(i: usize) -> String {
    format!("10.0.{}.{}", 1 + i / 250, 1 + i % 250)
}

/// `openstack_user_config.yml` for a deployment of `hosts` hosts (at least 4).
pub fn config(hosts: usize) -> String {
    assert!(hosts >= 4);
    let mut y = String::from(
        r#"---
cidr_networks:
  management: 10.0.0.0/16
  tunnel: 10.1.0.0/16
  storage: 10.2.0.0/16
used_ips:
  - "10.0.0.1,10.0.0.255"
  - "10.1.0.1,10.1.0.255"
  - "10.2.0.1,10.2.0.255"
global_overrides:
  internal_lb_vip_address: 10.0.0.10
  external_lb_vip_address: 192.0.2.10
  management_bridge: br-mgmt
  provider_networks:
    - network:
        container_bridge: br-mgmt
        container_type: veth
        container_interface: eth1
        ip_from_q: management
        type: raw
        group_binds: [all_containers, hosts]
        is_management_address: true
    - network:
        container_bridge: br-vxlan
        container_type: veth
        container_interface: eth10
        ip_from_q: tunnel
        type: geneve
        range: "1:1000"
        net_name: geneve
        group_binds: [neutron_ovn_controller]
    - network:
        container_bridge: br-vlan
        container_type: veth
        container_interface: eth11
        type: vlan
        range: "101:200,301:400"
        net_name: physnet1
        group_binds: [neutron_ovn_controller]
    - network:
        container_bridge: br-storage
        container_type: veth
        container_interface: eth2
        ip_from_q: storage
        type: raw
        group_binds: [glance_api, cinder_api, cinder_volume, nova_compute]
"#,
    );
    let infra = ["infra1", "infra2", "infra3"];
    for group in [
        "shared_infra_hosts",
        "repo_infra_hosts",
        "coordination_hosts",
        "load_balancer_hosts",
        "identity_hosts",
        "image_hosts",
        "storage_infra_hosts",
        "placement_infra_hosts",
        "compute_infra_hosts",
        "orchestration_hosts",
        "dashboard_hosts",
        "network_infra_hosts",
        "network_northd_hosts",
        "metering_infra_hosts",
        "metering_alarm_hosts",
        "metrics_hosts",
    ] {
        writeln!(y, "{group}:").unwrap();
        for (i, h) in infra.iter().enumerate() {
            writeln!(y, "  {h}:\n    ip: {}", host_ip(i)).unwrap();
        }
    }
    let others = hosts - infra.len();
    let computes = others - others / 4;
    let compute = |i: usize| (format!("compute{:05}", i + 1), host_ip(infra.len() + i));
    for group in ["compute_hosts", "metering_compute_hosts"] {
        writeln!(y, "{group}:").unwrap();
        for i in 0..computes {
            let (name, ip) = compute(i);
            writeln!(y, "  {name}:\n    ip: {ip}").unwrap();
        }
    }
    writeln!(y, "storage_hosts:").unwrap();
    for i in 0..others - computes {
        let ip = host_ip(infra.len() + computes + i);
        writeln!(
            y,
            "  storage{:05}:
    ip: {ip}
    container_vars:
      cinder_backends:
        limit_container_types: cinder_volume
        lvm:
          volume_group: cinder-volumes
          volume_driver: cinder.volume.drivers.lvm.LVMVolumeDriver
          volume_backend_name: LVM_iSCSI
          target_ip_address: {ip}",
            i + 1
        )
        .unwrap();
    }
    y
}
