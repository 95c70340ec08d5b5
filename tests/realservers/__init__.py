"""Real mail servers for the tests (Debian packages that .ci/run installs), each a private instance of its own:
its own config file and directories in the test's temporary directory, loopback ports only, stopped by its PID."""
