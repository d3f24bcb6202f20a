"""Example apps, shipped inside the package so that `redisq demo` can serve them from any installation."""
