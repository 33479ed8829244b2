/*
 * osa_inventory_plugin.h: the ABI of OpenStack-Ansible inventory storage plugins, version 2.
 *
 * A storage plugin is a shared library exporting ONE function, osa_inventory_plugin_init.
 * The host (dynamic-inventory, inventory-manage) loads it from the absolute path given as
 * `library = ...` in its /etc/ansible/osa.ini section, calls osa_inventory_plugin_init with
 * its own ABI version and its table of host functions, and receives the plugin's table of
 * functions. docs/plugins.md is the guide; this header is the reference.
 *
 * Versions
 *   A version is MAJOR.MINOR, passed as one uint32_t: MAJOR << 16 | MINOR
 *   (OSA_INVENTORY_PLUGIN_ABI_VERSION_OF). This header is 2.1.
 *     2.0  the entry point, the host table (log, lock_timeout_seconds) and the plugin
 *          table (open, load, write, location, close, free_buffer).
 *     2.1  host table: log_enabled. Plugin table: load_for_reading (optional).
 *   Both were published together, with the first release of ABI 2.
 *
 * Compatibility policy
 *   * Never changed, in any version: the name and signature of osa_inventory_plugin_init,
 *     and the first two fields of both tables (struct_size, abi_version). Any host can so
 *     read any plugin's version, and any plugin the host's, and refuse with a message.
 *   * A minor version (2.1, 2.2, ...) only ADDS: fields appended at the end of a table, new
 *     constants. It never removes, reorders or retypes a field, nor changes what an
 *     existing function does. Every field a minor version adds is optional for the other
 *     side: a plugin may leave a new plugin function NULL (the host then does what it did
 *     before), and must check that a new host function exists (OSA_INVENTORY_HOST_HAS)
 *     before calling it.
 *   * A major version (3.0) may change anything else. A host refuses a plugin of another
 *     major version, naming both versions.
 *   * So a host of 2.H loads a plugin built for 2.P:
 *       P <= H  always. The host reads only the first struct_size bytes of the plugin's
 *               table: the fields of later minor versions are absent (NULL).
 *       P >  H  unless the plugin's min_host_abi_version is newer than 2.H: the plugin
 *               declares there the oldest host it works with, i.e. the version that added
 *               the newest host function it calls without checking that it exists. The
 *               host ignores the table's fields it does not know.
 *
 * Sequence
 *   1. osa_inventory_plugin_init()  once per library per process, before anything else,
 *                                    never concurrently with another call. Returns the
 *                                    plugin's table; the host then checks its versions.
 *   2. open()       once per osa.ini section using the plugin (register): settings and a
 *                   host context in, an instance out.
 *   3. load() / load_for_reading() / write() / location(), on an instance, any number of
 *                   times and in any order (see each function).
 *   4. close()      once per instance; the instance is never used again.
 *   Any time: free_buffer() for each buffer the plugin handed out.
 *
 * Data
 *   Text crossing the ABI is UTF-8. Text the host passes in (settings, the inventory given
 *   to write) is owned by the host and valid only during the call; the inventory is given
 *   as a pointer and a length and followed by a NUL byte (data[len] == 0) not counted in
 *   len; settings are NUL-terminated. Text the plugin hands out goes in an
 *   osa_inventory_plugin_buffer the plugin allocates; the host sets each output buffer to
 *   { NULL, 0 } before a call, copies what the plugin put there, and gives every buffer
 *   whose data is not NULL back to the plugin's free_buffer, exactly once, whatever the
 *   return code was (an error message set by a successful call is freed and ignored).
 *   Host memory is never freed by the plugin, nor plugin memory by the host.
 *
 * Errors
 *   A call that fails returns OSA_INVENTORY_PLUGIN_ERROR and puts a message for the
 *   operator in *error (one line, no trailing newline, naming what failed: "cannot open
 *   database /var/lib/osa/inventory.sqlite: permission denied"). The host stops the run,
 *   printing "SECTION backend: MESSAGE", without writing anything; the one exception is
 *   location(), whose failure only makes the host name the store otherwise. No C++
 *   exception, Rust panic or longjmp may leave a plugin function, and a plugin never calls
 *   exit().
 *
 * Threading
 *   The host never makes two calls on one instance at the same time, but it may make
 *   successive calls on one instance from different threads, and calls on different
 *   instances of one library at the same time. free_buffer may be called from any thread
 *   at any time. The host functions may be called from any thread, between the start of
 *   the open() that received the context and the return of the close() of that instance.
 *
 * Lifetime
 *   The host never unloads a plugin library: the tables, function pointers and static
 *   data stay valid until the process exits. The host table is static too. An instance
 *   lives from a successful open() until close(); a host context, from the start of open()
 *   until close() returns (or open() returns, when it fails).
 */
#ifndef OSA_INVENTORY_PLUGIN_H
#define OSA_INVENTORY_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions ---------------------------------------------------------------------- */

#define OSA_INVENTORY_PLUGIN_ABI_VERSION_OF(major, minor) \
    ((uint32_t)(((uint32_t)(major) << 16) | (uint32_t)(minor)))
#define OSA_INVENTORY_PLUGIN_ABI_MAJOR_OF(version) ((uint32_t)(version) >> 16)
#define OSA_INVENTORY_PLUGIN_ABI_MINOR_OF(version) ((uint32_t)(version) & 0xFFFFu)

/* The version this header describes. */
#define OSA_INVENTORY_PLUGIN_ABI_MAJOR 2u
#define OSA_INVENTORY_PLUGIN_ABI_MINOR 1u
#define OSA_INVENTORY_PLUGIN_ABI_VERSION \
    OSA_INVENTORY_PLUGIN_ABI_VERSION_OF(OSA_INVENTORY_PLUGIN_ABI_MAJOR, OSA_INVENTORY_PLUGIN_ABI_MINOR)

/* ---- Constants --------------------------------------------------------------------- */

/* Return codes. */
#define OSA_INVENTORY_PLUGIN_OK 0       /* open, write: success */
#define OSA_INVENTORY_PLUGIN_PRESENT 1  /* load, load_for_reading, location: a value */
#define OSA_INVENTORY_PLUGIN_ABSENT 0   /* load: no inventory stored; location: none */
#define OSA_INVENTORY_PLUGIN_ERROR (-1) /* any call: failure, message in *error */

/* Log levels (host log function). */
#define OSA_INVENTORY_LOG_ERROR 1
#define OSA_INVENTORY_LOG_WARNING 2
#define OSA_INVENTORY_LOG_INFO 3
#define OSA_INVENTORY_LOG_DEBUG 4

/* ---- Types ------------------------------------------------------------------------- */

/* One instance of the plugin: whatever the plugin needs per osa.ini section. Opaque to
 * the host, which only passes the pointer back. */
typedef struct osa_inventory_plugin_instance osa_inventory_plugin_instance;

/* The host's side of one instance, given to open(): pass it to the host functions. Opaque
 * to the plugin. */
typedef struct osa_inventory_host_context osa_inventory_host_context;

/* Text the plugin hands to the host: `len` bytes of UTF-8 at `data` (no NUL needed).
 * Allocated by the plugin, released by the host through the plugin's free_buffer. */
typedef struct osa_inventory_plugin_buffer {
    char *data;
    size_t len;
} osa_inventory_plugin_buffer;

/* One setting of the plugin's osa.ini section: NUL-terminated UTF-8, owned by the host,
 * valid during open() only. The value is as written in osa.ini (quotes kept, surrounding
 * white space and comments removed). */
typedef struct osa_inventory_plugin_setting {
    const char *key;
    const char *value;
} osa_inventory_plugin_setting;

/* ---- The host's functions ---------------------------------------------------------- */

typedef struct osa_inventory_host_api {
    /* The size of this table as the host knows it, and the host's ABI version. */
    uint32_t struct_size;
    uint32_t abi_version;

    /* -- ABI 2.0 -- */

    /* Adds a line to the host's debug log (dynamic-inventory --debug: inventory.log),
     * as "SECTION backend: LEVEL: MESSAGE". `message` is `message_len` bytes of UTF-8, no
     * NUL needed; newlines and control characters are shown escaped. Lines are dropped
     * when the host is not debugging. Use it instead of writing to standard error
     * (standard output is never allowed: it is Ansible's inventory). */
    void (*log)(osa_inventory_host_context *host, int32_t level, const char *message,
                size_t message_len);

    /* How long, in seconds, this run lets an instance wait for a lock on its store
     * (another run holding it): the `lock_timeout` key of the section (0 to 86400),
     * or 600. The host reads that key itself: it is never among the settings. */
    uint32_t (*lock_timeout_seconds)(osa_inventory_host_context *host);

    /* -- ABI 2.1 -- */

    /* Non-zero when a line logged at `level` would be kept, so that a plugin can skip
     * building it. Without this function (a 2.0 host), assume it would. */
    int32_t (*log_enabled)(osa_inventory_host_context *host, int32_t level);
} osa_inventory_host_api;

/* The size of each version of the host table: a 2.0 host's struct_size is at least
 * OSA_INVENTORY_HOST_API_SIZE_2_0. */
#define OSA_INVENTORY_HOST_API_SIZE_2_0 offsetof(osa_inventory_host_api, log_enabled)
#define OSA_INVENTORY_HOST_API_SIZE_2_1 sizeof(osa_inventory_host_api)

/* Whether the host table `api` has the function `field` (it is within struct_size and
 * not NULL): OSA_INVENTORY_HOST_HAS(host, log_enabled). */
#define OSA_INVENTORY_HOST_HAS(api, field)                                       \
    ((api) != NULL &&                                                            \
     (api)->struct_size >= offsetof(osa_inventory_host_api, field) + sizeof((api)->field) && \
     (api)->field != NULL)

/* ---- The plugin's functions -------------------------------------------------------- */

typedef struct osa_inventory_plugin_api {
    /* sizeof the table as the plugin was built (sizeof(osa_inventory_plugin_api), or more
     * for a table of a later minor version), and OSA_INVENTORY_PLUGIN_ABI_VERSION. */
    uint32_t struct_size;
    uint32_t abi_version;
    /* The oldest host ABI version the plugin works with (see "Compatibility policy"):
     * OSA_INVENTORY_PLUGIN_ABI_VERSION_OF(2, 0) when it only calls 2.0 host functions,
     * or checks for the others with OSA_INVENTORY_HOST_HAS. */
    uint32_t min_host_abi_version;

    /* -- ABI 2.0: all required -- */

    /* Register: creates an instance from the settings of the plugin's osa.ini section:
     * `settings_count` key/value pairs, keys unique and sorted (strcmp order), without the
     * keys the host reads itself (`type`, `library`, `lock_timeout`). Should check them
     * (unknown or missing keys are errors) but need not touch the storage yet. `host` is
     * this instance's context for the host functions; keep it in the instance.
     * Returns OSA_INVENTORY_PLUGIN_OK and sets *instance (not NULL), or
     * OSA_INVENTORY_PLUGIN_ERROR and sets *error (*instance is then ignored). */
    int32_t (*open)(osa_inventory_host_context *host,
                    const osa_inventory_plugin_setting *settings, size_t settings_count,
                    osa_inventory_plugin_instance **instance,
                    osa_inventory_plugin_buffer *error);

    /* The stored inventory, for a caller that will write: returns
     * OSA_INVENTORY_PLUGIN_PRESENT with the JSON document in *inventory,
     * OSA_INVENTORY_PLUGIN_ABSENT when nothing has been stored yet, or
     * OSA_INVENTORY_PLUGIN_ERROR with *error set. A plugin that needs exclusive access to
     * its storage (a lock, a transaction) takes it here, waiting at most
     * lock_timeout_seconds, and keeps it until write or close, so two programs never
     * interleave their load-generate-write cycles. May be called again, also after write
     * (taking the lock again). */
    int32_t (*load)(osa_inventory_plugin_instance *instance,
                    osa_inventory_plugin_buffer *inventory,
                    osa_inventory_plugin_buffer *error);

    /* Stores the inventory, a JSON document (`inventory_len` bytes, NUL after them), all or
     * nothing: after a failure or a crash the previously stored inventory must still be
     * there. Usually follows load on the same instance, but must also work without one,
     * and may be called more than once. Returns OSA_INVENTORY_PLUGIN_OK, or
     * OSA_INVENTORY_PLUGIN_ERROR with *error set. */
    int32_t (*write)(osa_inventory_plugin_instance *instance, const char *inventory,
                     size_t inventory_len, osa_inventory_plugin_buffer *error);

    /* The store this instance uses, identified: an absolute path for a local file, a URL
     * for a service ("/var/lib/osa/inventory.sqlite",
     * "https://cmdb.example.com/inventories/prod"). Two instances using the same store
     * must return the same location and two stores different ones: the host compares
     * locations (paths made canonical) to refuse copying a store onto itself, and shows
     * them in messages. Returns OSA_INVENTORY_PLUGIN_PRESENT with the text in *location,
     * or OSA_INVENTORY_PLUGIN_ABSENT (or OSA_INVENTORY_PLUGIN_ERROR with *error set,
     * which goes to the debug log) when it cannot say: the host then shows the library's
     * path and takes every instance of the library for the same store. Must not block or
     * change anything. */
    int32_t (*location)(osa_inventory_plugin_instance *instance,
                        osa_inventory_plugin_buffer *location,
                        osa_inventory_plugin_buffer *error);

    /* Releases an instance and whatever it holds (locks, connections, an unfinished
     * transaction, which is abandoned, not committed). Called exactly once per instance,
     * also after errors. */
    void (*close)(osa_inventory_plugin_instance *instance);

    /* Releases a buffer this plugin handed out: `data` and `len` as the plugin set them. */
    void (*free_buffer)(char *data, size_t len);

    /* -- ABI 2.1: optional (NULL) -- */

    /* load for a caller that will not write (a listing, --check, the source of a copy):
     * may take a lock that only excludes writers, or none. Same return codes as load.
     * NULL: the host calls load instead. */
    int32_t (*load_for_reading)(osa_inventory_plugin_instance *instance,
                                osa_inventory_plugin_buffer *inventory,
                                osa_inventory_plugin_buffer *error);
} osa_inventory_plugin_api;

/* The size of each version of the plugin table: a 2.0 plugin's struct_size is
 * OSA_INVENTORY_PLUGIN_API_SIZE_2_0. */
#define OSA_INVENTORY_PLUGIN_API_SIZE_2_0 offsetof(osa_inventory_plugin_api, load_for_reading)
#define OSA_INVENTORY_PLUGIN_API_SIZE_2_1 sizeof(osa_inventory_plugin_api)

/* ---- The entry point, the one function a plugin exports ---------------------------- */

/* Called once, first, with the host's ABI version and its table of functions (static:
 * keep the pointer). Returns the plugin's table, static too, whatever the host's version:
 * the host decides from the table's versions whether it can use the plugin. When the
 * major version of `host_abi_version` is not the plugin's, the plugin must not read
 * `*host` beyond its first two fields. Must not block, fail or do anything else that
 * matters; NULL tells the host the library cannot work at all. */
const osa_inventory_plugin_api *osa_inventory_plugin_init(uint32_t host_abi_version,
                                                          const osa_inventory_host_api *host);

#define OSA_INVENTORY_PLUGIN_INIT_SYMBOL "osa_inventory_plugin_init"

#ifdef __cplusplus
}
#endif

#endif /* OSA_INVENTORY_PLUGIN_H */
