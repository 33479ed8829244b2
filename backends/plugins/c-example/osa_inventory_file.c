/*
 * osa_inventory_file.c: a complete inventory storage plugin written in C.
 *
 * Keeps the inventory in one file, named by the `path` setting of its osa.ini section.
 * The file is replaced atomically (a temporary file beside it, written, flushed to disk,
 * then renamed over it), so a crash leaves the old inventory or the new one, never a mix.
 * It takes no lock: two programs running at once could both write (see docs/plugins.md,
 * "Locking", for how a plugin keeps them apart).
 *
 * Build (from the repository root):
 *   cc -shared -fPIC -O2 -Wall -Wextra -I backends/backend/include \
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

/* One instance per osa.ini section using the plugin. */
struct osa_inventory_plugin_instance {
    char *path;
};

/* Puts a formatted message in *out, allocated with malloc: the host hands it back to
 * osa_inventory_plugin_free_buffer, which frees it. */
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

/* --- Reading the settings: a JSON object whose values are all strings. --- */

static const char *skip_space(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }
    return p;
}

static int hex4(const char *p, unsigned *value) {
    *value = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned digit;
        if (c >= '0' && c <= '9') {
            digit = (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            digit = (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            digit = (unsigned)(c - 'A' + 10);
        } else {
            return 0;
        }
        *value = *value * 16 + digit;
    }
    return 1;
}

static void put_utf8(char **w, unsigned c) {
    if (c < 0x80) {
        *(*w)++ = (char)c;
    } else if (c < 0x800) {
        *(*w)++ = (char)(0xC0 | (c >> 6));
        *(*w)++ = (char)(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        *(*w)++ = (char)(0xE0 | (c >> 12));
        *(*w)++ = (char)(0x80 | ((c >> 6) & 0x3F));
        *(*w)++ = (char)(0x80 | (c & 0x3F));
    } else {
        *(*w)++ = (char)(0xF0 | (c >> 18));
        *(*w)++ = (char)(0x80 | ((c >> 12) & 0x3F));
        *(*w)++ = (char)(0x80 | ((c >> 6) & 0x3F));
        *(*w)++ = (char)(0x80 | (c & 0x3F));
    }
}

/* Decodes the JSON string starting at *p (its opening quote) into a new NUL-terminated
 * string and moves *p past its closing quote. NULL when it is malformed or holds a NUL. */
static char *json_string(const char **p, const char *end) {
    const char *s = *p;
    if (s >= end || *s != '"') {
        return NULL;
    }
    s++;
    /* Decoding never makes a string longer. */
    char *out = malloc((size_t)(end - s) + 1);
    char *w = out;
    if (out == NULL) {
        return NULL;
    }
    while (s < end && *s != '"') {
        if ((unsigned char)*s < 0x20) {
            goto bad;
        }
        if (*s != '\\') {
            *w++ = *s++;
            continue;
        }
        if (++s >= end) {
            goto bad;
        }
        switch (*s++) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            unsigned c, low;
            if (end - s < 4 || !hex4(s, &c) || c == 0 || (c >= 0xDC00 && c < 0xE000)) {
                goto bad;
            }
            s += 4;
            if (c >= 0xD800 && c < 0xDC00) {
                if (end - s < 6 || s[0] != '\\' || s[1] != 'u' || !hex4(s + 2, &low) ||
                    low < 0xDC00 || low >= 0xE000) {
                    goto bad;
                }
                s += 6;
                c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
            }
            put_utf8(&w, c);
            break;
        }
        default:
            goto bad;
        }
    }
    if (s >= end) {
        goto bad;
    }
    *w = '\0';
    *p = s + 1;
    return out;
bad:
    free(out);
    return NULL;
}

/* --- The ABI. --- */

uint32_t osa_inventory_plugin_abi_version(void) {
    return OSA_INVENTORY_PLUGIN_ABI_VERSION;
}

int32_t osa_inventory_plugin_open(const char *settings, size_t settings_len,
                                  osa_inventory_plugin_instance **instance,
                                  osa_inventory_plugin_buffer *error) {
    const char *p = settings, *end = settings + settings_len;
    char *path = NULL;

    p = skip_space(p, end);
    if (p >= end || *p++ != '{') {
        goto malformed;
    }
    p = skip_space(p, end);
    if (p < end && *p == '}') {
        p++;
    } else {
        for (;;) {
            char *key = json_string(&p, end);
            if (key == NULL) {
                goto malformed;
            }
            p = skip_space(p, end);
            char *value = NULL;
            if (p < end && *p == ':') {
                p = skip_space(p + 1, end);
                value = json_string(&p, end);
            }
            if (value == NULL) {
                free(key);
                goto malformed;
            }
            if (strcmp(key, "path") == 0) {
                free(path);
                path = value;
            } else {
                set_text(error, "unknown setting '%s' (known: path)", key);
                free(key);
                free(value);
                free(path);
                return OSA_INVENTORY_PLUGIN_ERROR;
            }
            free(key);
            p = skip_space(p, end);
            if (p < end && *p == ',') {
                p = skip_space(p + 1, end);
                continue;
            }
            if (p < end && *p == '}') {
                p++;
                break;
            }
            goto malformed;
        }
    }
    if (skip_space(p, end) != end) {
        goto malformed;
    }
    if (path == NULL || path[0] == '\0') {
        free(path);
        set_text(error, "setting 'path' is required: the file holding the inventory");
        return OSA_INVENTORY_PLUGIN_ERROR;
    }
    *instance = malloc(sizeof **instance);
    if (*instance == NULL) {
        free(path);
        set_text(error, "out of memory");
        return OSA_INVENTORY_PLUGIN_ERROR;
    }
    (*instance)->path = path;
    return OSA_INVENTORY_PLUGIN_OK;

malformed:
    free(path);
    set_text(error, "the settings are not a JSON object of strings");
    return OSA_INVENTORY_PLUGIN_ERROR;
}

int32_t osa_inventory_plugin_load(osa_inventory_plugin_instance *instance,
                                  osa_inventory_plugin_buffer *inventory,
                                  osa_inventory_plugin_buffer *error) {
    FILE *file = fopen(instance->path, "rb");
    if (file == NULL) {
        if (errno == ENOENT) {
            return OSA_INVENTORY_PLUGIN_ABSENT; /* nothing stored yet */
        }
        set_text(error, "cannot read %s: %s", instance->path, strerror(errno));
        return OSA_INVENTORY_PLUGIN_ERROR;
    }
    size_t len = 0, capacity = 65536;
    char *data = malloc(capacity);
    for (;;) {
        if (data == NULL) {
            fclose(file);
            set_text(error, "cannot read %s: out of memory", instance->path);
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
        set_text(error, "cannot read %s: %s", instance->path, strerror(saved));
        return OSA_INVENTORY_PLUGIN_ERROR;
    }
    inventory->data = data;
    inventory->len = len;
    return OSA_INVENTORY_PLUGIN_PRESENT;
}

int32_t osa_inventory_plugin_write(osa_inventory_plugin_instance *instance,
                                   const char *inventory, size_t inventory_len,
                                   osa_inventory_plugin_buffer *error) {
    size_t size = strlen(instance->path) + sizeof ".tmp";
    char *temporary = malloc(size);
    if (temporary == NULL) {
        set_text(error, "cannot write %s: out of memory", instance->path);
        return OSA_INVENTORY_PLUGIN_ERROR;
    }
    snprintf(temporary, size, "%s.tmp", instance->path);

    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0644);
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
    if (rename(temporary, instance->path) != 0) {
        set_text(error, "cannot replace %s: %s", instance->path, strerror(errno));
        unlink(temporary);
        free(temporary);
        return OSA_INVENTORY_PLUGIN_ERROR;
    }
    free(temporary);
    return OSA_INVENTORY_PLUGIN_OK;
}

int32_t osa_inventory_plugin_location(osa_inventory_plugin_instance *instance,
                                      osa_inventory_plugin_buffer *location,
                                      osa_inventory_plugin_buffer *error) {
    (void)error;
    set_text(location, "%s", instance->path);
    return OSA_INVENTORY_PLUGIN_PRESENT;
}

void osa_inventory_plugin_close(osa_inventory_plugin_instance *instance) {
    free(instance->path);
    free(instance);
}

void osa_inventory_plugin_free_buffer(char *data, size_t len) {
    (void)len;
    free(data);
}
