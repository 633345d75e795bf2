#!/bin/sh
# make run: start a development server in the foreground, data in ./var.
set -eu

bin=build/posthorn
data=${POSTHORN_DATA:-var}

# As root, posthorn leaves root for the "posthorn" user after binding its
# ports; create that user the first time.
if [ "$(id -u)" -eq 0 ] && ! getent passwd posthorn >/dev/null; then
	useradd --system --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin posthorn
	echo "created system user 'posthorn'"
fi

cat <<MSG

posthorn is starting with its data in ./$data (stop it with Ctrl-C).
SMTP listens on 127.0.0.1:10025, POP3 on 127.0.0.1:10110 and POP3 over
TLS on 127.0.0.1:10995 (a self-signed certificate is made in ./$data/tls).

Next, in another terminal:

  $bin --data $data domain add example.com
  echo 'a secret' | $bin --data $data user add alice@example.com
  swaks --server 127.0.0.1:10025 --to alice@example.com --body 'hello'
  curl -u 'alice@example.com:a secret' pop3://127.0.0.1:10110/1

README.md has the rest.

MSG
exec "$bin" --data "$data" serve
