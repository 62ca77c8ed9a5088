"""Operations: notifications, metrics, dashboard, health checks."""
