#!/bin/sh
# Entrypoint of the compose `mosquitto` service (eclipse-mosquitto:2 image).
#
# Mosquitto wants a hashed password file, people want to edit a plain one. At every
# start this script copies the plain-text credentials file (one `user:password` a
# line; blank lines and lines starting with # are ignored) into the data volume,
# hashes it there with `mosquitto_passwd -U`, and then runs the broker.
#
#   MOSQUITTO_PASSWORDS_FILE  plain user:password file to read
#                             (default /mosquitto/config/passwd.example, the demo file;
#                             compose mounts $MOSQUITTO_PASSWORDS there instead)
#   MOSQUITTO_CONFIG          broker configuration
#                             (default /mosquitto/config/mosquitto.conf)
#
# Users: `ingest` (the platform's consumer), `simulator` (demo / load generator) and
# one line per meter or sensor serial, e.g. `SN1:long-random-password`.
#
# After editing the plain file, either restart the service or reload in place:
#   docker compose exec mosquitto sh /mosquitto/config/entrypoint.sh reload
# (re-hashes the file and sends SIGHUP, which makes mosquitto re-read passwords and
# ACL without dropping connections).
set -eu

SRC="${MOSQUITTO_PASSWORDS_FILE:-/mosquitto/config/passwd.example}"
CONFIG="${MOSQUITTO_CONFIG:-/mosquitto/config/mosquitto.conf}"
DATA_DIR="${MOSQUITTO_DATA_DIR:-/mosquitto/data}"
DEST="$DATA_DIR/passwd"

hash_passwords() {
    if [ ! -r "$SRC" ]; then
        echo "entrypoint: password file $SRC is missing or unreadable" >&2
        exit 1
    fi
    mkdir -p "$DATA_DIR"
    umask 077
    tmp="$DEST.tmp.$$"
    # Drop comments, blank lines and Windows line ends; every other line must be
    # user:password with a non-empty password.
    tr -d '\r' <"$SRC" | sed -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' >"$tmp"
    if grep -v -q -E '^[^:[:space:]]+:.+$' "$tmp"; then
        echo "entrypoint: every line of $SRC must be user:password" >&2
        rm -f "$tmp"
        exit 1
    fi
    mosquitto_passwd -U "$tmp"
    # The broker drops root privileges to the mosquitto user: it must own the
    # hashed file (mosquitto >= 2.0.16 warns about group/world readable ones) and
    # the data directory with the persistence database.
    if [ "$(id -u)" = "0" ] && id mosquitto >/dev/null 2>&1; then
        chown -R mosquitto:mosquitto "$DATA_DIR"
    fi
    chmod 0600 "$tmp"
    mv -f "$tmp" "$DEST"
    echo "entrypoint: $(wc -l <"$DEST" | tr -d ' ') MQTT users loaded from $SRC"
}

case "${1:-run}" in
    reload)
        hash_passwords
        kill -HUP 1
        ;;
    run)
        hash_passwords
        exec mosquitto -c "$CONFIG"
        ;;
    *)
        echo "usage: entrypoint.sh [run|reload]" >&2
        exit 2
        ;;
esac
