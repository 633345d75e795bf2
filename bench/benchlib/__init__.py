"""posthorn benchmark: posthorn against Postfix + Dovecot.  See bench/README.md."""
