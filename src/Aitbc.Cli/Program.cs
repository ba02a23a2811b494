using Aitbc.Cli;

// aitbc: the command line of AITBC, for people (tables and progress on the terminal) and agents (--json).
// Commands not built in run as plugins (~/.aitbc/plugins) or as external programs aitbc-NAME on the PATH.
return await CliApp.RunAsync(args);
