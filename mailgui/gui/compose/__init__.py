"""The compose window and its fields: From, To/Cc/Bcc, attachments, checks before sending, drafts saved."""
