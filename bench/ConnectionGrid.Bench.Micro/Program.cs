using BenchmarkDotNet.Running;

// Micro-benchmarks of the hot pure code: dotnet run -c Release --project bench/ConnectionGrid.Bench.Micro -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(ConnectionGrid.Bench.Micro.StateCipherBenchmarks).Assembly).Run(args);
