// notifications: see the module's own comment once written.
