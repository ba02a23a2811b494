using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Aitbc.Coordinator.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class SeenSignatures : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "seen_signatures",
                columns: table => new
                {
                    Digest = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Until = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_seen_signatures", x => x.Digest);
                });

            migrationBuilder.CreateIndex(
                name: "IX_seen_signatures_Until",
                table: "seen_signatures",
                column: "Until");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "seen_signatures");
        }
    }
}
