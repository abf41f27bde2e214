# enrolld's RPM %post: the user (sysusers), its state folder (tmpfiles), the config's
# permissions. No CA is created and nothing is started: see /etc/enrolld/enrolld.conf.
systemd-sysusers enrolld.conf >/dev/null 2>&1 || :
systemd-tmpfiles --create enrolld.conf >/dev/null 2>&1 || :
chown root:enrolld /etc/enrolld/enrolld.conf 2>/dev/null || :
chmod 0640 /etc/enrolld/enrolld.conf 2>/dev/null || :
systemctl daemon-reload >/dev/null 2>&1 || :
