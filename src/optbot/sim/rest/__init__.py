"""SmartAPI REST handlers of the simulator, one module per area of the API."""
