// Every database of the server with its state: online, offline, or why it could not start.
SHOW DATABASES YIELD name, currentStatus, statusMessage
RETURN name, currentStatus AS status, statusMessage AS message
