/*
 * osa_inventory_plugin.h: the ABI of OpenStack-Ansible inventory storage plugins.
 *
 * A storage plugin is a shared library that exports the seven functions below. The host
 * (dynamic-inventory, inventory-manage) loads it from the absolute path given as
 * `library = ...` in its /etc/ansible/osa.ini section and uses it as it uses a built-in
 * backend. docs/plugins.md is the guide; this header is the reference.
 *
 * Sequence
 *   1. osa_inventory_plugin_abi_version()  always first; the host refuses the plugin
 *                                           unless it returns the host's version.
 *   2. osa_inventory_plugin_open()          once per osa.ini section using the plugin
 *                                           (register): settings in, instance out.
 *   3. osa_inventory_plugin_load()          the stored inventory, or "none stored".
 *   4. osa_inventory_plugin_write()         only when the inventory changed.
 *   5. osa_inventory_plugin_close()         once per instance; it is never used again.
 *   Any time: osa_inventory_plugin_location() (for messages), and
 *             osa_inventory_plugin_free_buffer() for each buffer the plugin handed over.
 *
 * Data
 *   Everything crossing the ABI is UTF-8 JSON text, given as a pointer and a length.
 *   Text the host passes in is owned by the host, valid only during the call, and is
 *   followed by a NUL byte (data[len] == 0) that is not counted in len. Text the plugin
 *   hands out goes in an osa_inventory_plugin_buffer the plugin allocates; the host
 *   gives every buffer whose data is not NULL back to osa_inventory_plugin_free_buffer,
 *   exactly once, whatever the return code was. The host sets each output buffer to
 *   { NULL, 0 } before a call.
 *
 * Errors
 *   A call that fails returns OSA_INVENTORY_PLUGIN_ERROR and should put a message for the
 *   operator in *error (one line, no trailing newline, naming what failed: "cannot open
 *   database /var/lib/osa/inventory.sqlite: permission denied"). The host shows it as
 *   "SECTION backend: MESSAGE" and exits non-zero without writing anything.
 *
 * Threading
 *   The host never makes two calls on one instance at the same time, but it may make
 *   successive calls on one instance from different threads, and calls on different
 *   instances (of one library) at the same time. abi_version and free_buffer may be
 *   called from any thread at any time.
 *
 * Lifetime
 *   The host never unloads a plugin library: function pointers and static data stay
 *   valid until the process exits. An instance lives from a successful open until close.
 */
#ifndef OSA_INVENTORY_PLUGIN_H
#define OSA_INVENTORY_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. Any incompatible change increments it. */
#define OSA_INVENTORY_PLUGIN_ABI_VERSION 1u

/* Return codes. */
#define OSA_INVENTORY_PLUGIN_OK 0       /* open, write: success */
#define OSA_INVENTORY_PLUGIN_PRESENT 1  /* load, location: a value was returned */
#define OSA_INVENTORY_PLUGIN_ABSENT 0   /* load: no inventory stored; location: none */
#define OSA_INVENTORY_PLUGIN_ERROR (-1) /* any call: failure, message in *error */

/* One instance of the plugin: whatever the plugin needs per osa.ini section. Opaque to
 * the host, which only passes the pointer back. */
typedef struct osa_inventory_plugin_instance osa_inventory_plugin_instance;

/* Text the plugin hands to the host: `len` bytes of UTF-8 at `data` (no NUL needed).
 * Allocated by the plugin, released by the host through osa_inventory_plugin_free_buffer. */
typedef struct osa_inventory_plugin_buffer {
    char *data;
    size_t len;
} osa_inventory_plugin_buffer;

/* The ABI version the plugin was built for: return OSA_INVENTORY_PLUGIN_ABI_VERSION.
 * Called first, before any other function; must not fail and must have no side effects. */
uint32_t osa_inventory_plugin_abi_version(void);

/* Register: creates an instance from the settings of the plugin's osa.ini section,
 * `settings` being a JSON object whose values are all strings, keys in sorted order,
 * without `type` and `library`: {"database":"/var/lib/osa/inventory.sqlite"}.
 * Should check the settings (unknown or missing keys are errors) but need not touch the
 * storage yet.
 * Returns OSA_INVENTORY_PLUGIN_OK and sets *instance (not NULL), or
 * OSA_INVENTORY_PLUGIN_ERROR and sets *error (*instance is then ignored). */
int32_t osa_inventory_plugin_open(const char *settings, size_t settings_len,
                                  osa_inventory_plugin_instance **instance,
                                  osa_inventory_plugin_buffer *error);

/* The stored inventory. Returns OSA_INVENTORY_PLUGIN_PRESENT with the JSON document in
 * *inventory, OSA_INVENTORY_PLUGIN_ABSENT when nothing has been stored yet, or
 * OSA_INVENTORY_PLUGIN_ERROR with *error set. A plugin that needs exclusive access to its
 * storage (a lock, a transaction) takes it here and keeps it until write or close, so two
 * programs never interleave their load-generate-write cycles. */
int32_t osa_inventory_plugin_load(osa_inventory_plugin_instance *instance,
                                  osa_inventory_plugin_buffer *inventory,
                                  osa_inventory_plugin_buffer *error);

/* Stores the inventory, a JSON document (`inventory_len` bytes, NUL after them), all or
 * nothing: after a failure or a crash the previously stored inventory must still be
 * there. Usually called after load on the same instance (and only when the inventory
 * changed), but a plugin must also accept a write without a load.
 * Returns OSA_INVENTORY_PLUGIN_OK, or OSA_INVENTORY_PLUGIN_ERROR with *error set. */
int32_t osa_inventory_plugin_write(osa_inventory_plugin_instance *instance,
                                   const char *inventory, size_t inventory_len,
                                   osa_inventory_plugin_buffer *error);

/* Where the inventory lives, for the operator ("/var/lib/osa/inventory.sqlite",
 * "https://cmdb.example.com/inventories/prod"). Returns OSA_INVENTORY_PLUGIN_PRESENT
 * with the text in *location, OSA_INVENTORY_PLUGIN_ABSENT when the plugin has nothing
 * better to say than the library's path, or OSA_INVENTORY_PLUGIN_ERROR with *error set.
 * Must not block or change anything. */
int32_t osa_inventory_plugin_location(osa_inventory_plugin_instance *instance,
                                      osa_inventory_plugin_buffer *location,
                                      osa_inventory_plugin_buffer *error);

/* Releases an instance and whatever it holds (locks, connections, an unfinished
 * transaction, which is abandoned, not committed). Called exactly once per instance. */
void osa_inventory_plugin_close(osa_inventory_plugin_instance *instance);

/* Releases a buffer this plugin handed out: `data` and `len` as the plugin set them. */
void osa_inventory_plugin_free_buffer(char *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* OSA_INVENTORY_PLUGIN_H */
