"""What runs in the rendered project's environment: the apps of L0, L3 and L4's overload
scenario, the launcher that serves them like the service's own entry point, and L2's loop."""
