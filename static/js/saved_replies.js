// saved_replies: see the module's own comment once written.
