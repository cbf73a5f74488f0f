"""E-mail: one mailbox polled over IMAP, replies sent over SMTP (platform-apis.md section 7)."""
