using Transformation.Directory.Api;

var builder = WebApplication.CreateBuilder(args);
builder.AddDirectoryService();
var app = builder.Build();
app.MapDirectoryService();
app.Run();

public partial class Program;
