"""HTTP: the resolvers, routes and error mapping of the PointsNet API."""
