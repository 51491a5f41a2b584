using System.Runtime.CompilerServices;

// The functional tests drive EventProcessor directly to check a batch's outcomes deterministically.
[assembly: InternalsVisibleTo("Transformation.EventBus.FunctionalTests")]
