"""SCM plugins: GitHub, local."""
