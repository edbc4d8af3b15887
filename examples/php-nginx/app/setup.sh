#!/bin/sh
# The :wait: setup step of the example: runs to completion before php-fpm
# starts; a nonzero exit aborts the start (dinit stops and exits nonzero).
set -eu

# Runtime directories. In the image they are on the container's own writable
# layer, in a --read-only container on tmpfs mounts of /run and /var.
mkdir -p /run/php /run/app /var/lib/nginx
install -d -o www-data -g www-data -m 0750 /var/cache/app

# The app's configuration, rendered from the environment (what entrypoint
# scripts usually do), prepended to every PHP page by php-fpm.conf.
greeting=${APP_GREETING:-Hello from php-fpm behind nginx, under dinit}
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
php_string() { printf "'%s'" "$(printf '%s' "$1" | sed "s/[\\\\']/\\\\&/g")"; }
cat > /run/app/config.php <<PHP
<?php
const APP_GREETING = $(php_string "$greeting");
const APP_STARTED = '$started';
const APP_CACHE = '/var/cache/app';
PHP

# Fail here, with the reason, rather than later in a half-started container.
# (php-fpm -t says everything twice: print it only when it fails.)
if ! out=$(php-fpm8.2 -t -y /app/php-fpm.conf 2>&1); then
    printf '%s\n' "$out" >&2
    exit 1
fi
nginx -t -q -c /app/nginx.conf -e stderr
echo "setup: done"
