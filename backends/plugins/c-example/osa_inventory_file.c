/*
 * osa_inventory_file.c: a complete inventory storage plugin written in C (plugin ABI 2).
 *
 * Keeps the inventory in one file, named by the `path` setting of its osa.ini section.
 * The file is replaced atomically (a temporary file beside it, written, flushed to disk,
 * then renamed over it), so a crash leaves the old inventory or the new one, never a mix.
 * It takes no lock: two programs running at once could both write (see docs/plugins.md,
 * "Storing safely", for how a plugin keeps them apart). What it does goes to the host's
 * debug log (dynamic-inventory --debug).
 *
 * Build (from the repository root):
 *   cc -std=c11 -shared -fPIC -O2 -Wall -Wextra -I backends/backend/include \
 *      -o libosa_inventory_file.so backends/plugins/c-example/osa_inventory_file.c
 *
 * osa.ini:
 *   [storage]
 *   backend = file
 *
 *   [file]
 *   type = plugin
 *   library = /usr/local/lib/osa-inventory/libosa_inventory_file.so
 *   path = /var/lib/osa/openstack_inventory.json
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "osa_inventory_plugin.h"

/* The host's functions, given to osa_inventory_plugin_init; static, never freed. */
static const osa_inventory_host_api *host;

/* One instance per osa.ini section using the plugin. */
struct osa_inventory_plugin_instance {
    char *path;
    osa_inventory_host_context *context; /* for the host's functions */
};

/* Puts a formatted message in *out, allocated with malloc: the host hands it back to
 * free_buffer, which frees it. */
static void set_text(osa_inventory_plugin_buffer *out, const char *format, ...) {
    va_list args;
    va_start(args, format);
    int n = vsnprintf(NULL, 0, format, args);
    va_end(args);
    if (out == NULL || n < 0) {
        return;
    }
    char *data = malloc((size_t)n + 1);
    if (data == NULL) {
        return;
    }
    va_start(args, format);
    vsnprintf(data, (size_t)n + 1, format, args);
    va_end(args);
    out->data = data;
    out->len = (size_t)n;
}

/* A line for the host's debug log: "file backend: debug: read 1234 bytes from ...". */
static void say(const osa_inventory_plugin_instance *self, int32_t level, const char *format,
                ...) {
    char line[1024];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(line, sizeof line, format, args);
    va_end(args);
    if (n >= 0 && host != NULL) {
        size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
        host->log(self->context, level, line, len);
    }
}

/* --- The plugin's functions. --- */

static int32_t file_open(osa_inventory_host_context *context,
                         const osa_inventory_plugin_setting *settings, size_t settings_count,
                         osa_inventory_plugin_instance **instance,
                         osa_inventory_plugin_buffer *error) {
    const char *path = NULL;
    for (size_t i = 0; i < settings_count; i++) {
        if (strcmp(settings[i].key, "path") == 0) {
            path = settings[i].value;
        } else {
            set_text(error, "unknown setting '%s' (known: path)", settings[i].key);
            return OSA_INVENTORY_PLUGIN_ERROR;
        }
    }
    if (path == NULL || path[0] == '\0') {
        set_text(error, "setting 'path' is required: the file holding the inventory");
        return OSA_INVENTORY_PLUGIN_ERROR;
    }
    osa_inventory_plugin_instance *self = malloc(sizeof *self);
    char *copy = strdup(path); /* the settings are the host's: copy what is kept */
    if (self == NULL || copy == NULL) {
        free(self);
        free(copy);
        set_text(error, "out of memory");
        return OSA_INVENTORY_PLUGIN_ERROR;
    }
    self->path = copy;
    self->context = context;
    *instance = self;
    return OSA_INVENTORY_PLUGIN_OK;
}

static int32_t file_load(osa_inventory_plugin_instance *self,
                         osa_inventory_plugin_buffer *inventory,
                         osa_inventory_plugin_buffer *error) {
    FILE *file = fopen(self->path, "rb");
    if (file == NULL) {
        if (errno == ENOENT) {
            say(self, OSA_INVENTORY_LOG_DEBUG, "%s does not exist yet", self->path);
            return OSA_INVENTORY_PLUGIN_ABSENT; /* nothing stored yet */
        }
        set_text(error, "cannot read %s: %s", self->path, strerror(errno));
        return OSA_INVENTORY_PLUGIN_ERROR;
    }
    size_t len = 0, capacity = 65536;
    char *data = malloc(capacity);
    for (;;) {
        if (data == NULL) {
            fclose(file);
            set_text(error, "cannot read %s: out of memory", self->path);
            return OSA_INVENTORY_PLUGIN_ERROR;
        }
        len += fread(data + len, 1, capacity - len, file);
        if (len < capacity) {
            break;
        }
        char *bigger = realloc(data, capacity * 2);
        if (bigger == NULL) {
            free(data);
        }
        data = bigger;
        capacity *= 2;
    }
    int failed = ferror(file);
    int saved = errno;
    fclose(file);
    if (failed) {
        free(data);
        set_text(error, "cannot read %s: %s", self->path, strerror(saved));
        return OSA_INVENTORY_PLUGIN_ERROR;
    }
    say(self, OSA_INVENTORY_LOG_DEBUG, "read %zu bytes from %s", len, self->path);
    inventory->data = data;
    inventory->len = len;
    return OSA_INVENTORY_PLUGIN_PRESENT;
}

static int32_t file_write(osa_inventory_plugin_instance *self, const char *inventory,
                          size_t inventory_len, osa_inventory_plugin_buffer *error) {
    size_t size = strlen(self->path) + sizeof ".tmp";
    char *temporary = malloc(size);
    if (temporary == NULL) {
        set_text(error, "cannot write %s: out of memory", self->path);
        return OSA_INVENTORY_PLUGIN_ERROR;
    }
    snprintf(temporary, size, "%s.tmp", self->path);

    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        set_text(error, "cannot write %s: %s", temporary, strerror(errno));
        free(temporary);
        return OSA_INVENTORY_PLUGIN_ERROR;
    }
    size_t done = 0;
    while (done < inventory_len) {
        ssize_t n = write(fd, inventory + done, inventory_len - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        done += (size_t)n;
    }
    if (done < inventory_len || fsync(fd) != 0) {
        set_text(error, "cannot write %s: %s", temporary, strerror(errno));
        close(fd);
        unlink(temporary);
        free(temporary);
        return OSA_INVENTORY_PLUGIN_ERROR;
    }
    close(fd);
    if (rename(temporary, self->path) != 0) {
        set_text(error, "cannot replace %s: %s", self->path, strerror(errno));
        unlink(temporary);
        free(temporary);
        return OSA_INVENTORY_PLUGIN_ERROR;
    }
    free(temporary);
    say(self, OSA_INVENTORY_LOG_INFO, "wrote %zu bytes to %s", inventory_len, self->path);
    return OSA_INVENTORY_PLUGIN_OK;
}

/* The file identifies the store: the host compares locations (made canonical). */
static int32_t file_location(osa_inventory_plugin_instance *self,
                             osa_inventory_plugin_buffer *location,
                             osa_inventory_plugin_buffer *error) {
    (void)error;
    set_text(location, "%s", self->path);
    return OSA_INVENTORY_PLUGIN_PRESENT;
}

static void file_close(osa_inventory_plugin_instance *self) {
    free(self->path);
    free(self);
}

static void file_free_buffer(char *data, size_t len) {
    (void)len;
    free(data);
}

/* --- The entry point. --- */

static const osa_inventory_plugin_api file_api = {
    .struct_size = sizeof file_api,
    .abi_version = OSA_INVENTORY_PLUGIN_ABI_VERSION,
    /* Uses no host function added after 2.0. */
    .min_host_abi_version = OSA_INVENTORY_PLUGIN_ABI_VERSION_OF(2, 0),
    .open = file_open,
    .load = file_load,
    .write = file_write,
    .location = file_location,
    .close = file_close,
    .free_buffer = file_free_buffer,
    .load_for_reading = NULL, /* optional: load takes no lock, it serves readers too */
};

const osa_inventory_plugin_api *osa_inventory_plugin_init(uint32_t host_abi_version,
                                                          const osa_inventory_host_api *host_api) {
    /* A host of another major version refuses this plugin after reading its table; its
     * own table may not be what this header describes. */
    if (OSA_INVENTORY_PLUGIN_ABI_MAJOR_OF(host_abi_version) == OSA_INVENTORY_PLUGIN_ABI_MAJOR) {
        host = host_api;
    }
    return &file_api;
}
