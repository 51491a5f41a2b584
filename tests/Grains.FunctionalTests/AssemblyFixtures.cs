using Transformation.TestSupport;

[assembly: AssemblyFixture(typeof(PostgresFixture))]
